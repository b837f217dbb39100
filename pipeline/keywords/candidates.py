"""Candidate keywords: noun phrases found by part-of-speech patterns, grouped by lemma.

Each token gets one letter (N noun, P proper noun, A adjective, 9 number, D « de », T
article, O anything else); noun phrases are regular expressions over those letters. Oral
fillers, locution nouns and time words are never part of a candidate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from ..sentences import Sentence, sentences_of
from ..transcript import Transcript
from .lexicon import FILLER_PHRASES, FILLERS, LIGHT_NOUNS, LOCUTION_NOUNS, SENTENCE_ADVERBS, TIME_WORDS
from .model import Candidate, CandidateBuilder, KeywordOptions, Occurrence

NOUNS = frozenset({"NOUN", "PROPN"})
ACRONYM = re.compile(r"^[A-ZÀ-Ý][A-ZÀ-Ý0-9]{1,7}$")
HYPHENS = frozenset({"-", "‐", "‑"})
# A verb with its subject after it (« Est-il », « dit-elle », « a-t-on »): spaCy sometimes
# keeps it as one token and tags it a noun.
INVERTED = re.compile(r"-(?:t-)?(?:il|elle|on|ils|elles|je|tu|nous|vous|ce)$", re.IGNORECASE)
# A time of day as written or transcribed (« 13h02 », « 0h50 », « 12:30 »), or its « h ».
CLOCK = re.compile(r"^(?:\d{1,2}[h:]\d{0,2}|h)$", re.IGNORECASE)


def hyphenated_spans(tokens: Sequence[Any]) -> list[tuple[int, int]]:
    """Token spans of words written with hyphens that the tokenizer cut (« Hewlett - Packard »,
    « start - up », « Proche - Orient »): word, hyphen, word, … with no space between."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        end = i + 1
        while (
            end + 1 < len(tokens)
            and tokens[end].text in HYPHENS
            and not tokens[end - 1].whitespace_
            and not tokens[end].whitespace_
            and tokens[end - 1].text[-1:].isalnum()
            and tokens[end + 1].text[:1].isalnum()
        ):
            end += 2
        if end > i + 1:
            spans.append((i, end))
        i = end
    return spans


def join_hyphens(doc: Any) -> Any:
    """Make each hyphenated word one token: a proper noun when its first part is capitalised
    and one part is a proper noun (« Hewlett-Packard »), else a noun when one part is a
    noun (« start-up », « week-end »), else the tag of its last part. Its lemma is its
    text with the last part lemmatised, or its plural -s dropped when the lemmatiser does
    not know it (« start-ups » -> « start-up »)."""
    spans = hyphenated_spans(doc)
    if not spans:
        return doc
    with doc.retokenize() as retokenizer:
        for start, end in spans:
            parts = doc[start:end]
            pos = {t.pos_ for t in list(parts)[::2]}
            if parts[0].text[:1].isupper() and "PROPN" in pos:
                tag = "PROPN"
            elif pos & {"NOUN", "PROPN", "X"}:
                tag = "NOUN"
            else:
                tag = parts[-1].pos_
            last = parts[-1]
            ending = last.lemma_ or last.text
            if tag == "PROPN":
                ending = last.text
            elif ending.lower() == last.lower_ and len(ending) > 2 and ending.lower().endswith("s"):
                ending = ending[:-1]  # a plural the lemmatiser does not know (« ups »)
            lemma = parts[:-1].text + ending
            retokenizer.merge(parts, attrs={"POS": tag, "LEMMA": lemma if tag == "PROPN" else lemma.lower()})
    return doc


NAME_ARTICLES = frozenset({"La", "Le", "Les"})


def join_name_articles(doc: Any) -> Any:
    """Make a capitalised article inside a sentence one proper noun with the capitalised word
    after it (« à La Rochelle », « de La Poste »): the article is part of the name. At the
    start of a sentence every article has a capital, so none is joined there."""
    spans = [
        (token.i, token.i + 2)
        for token in doc[1:-1]
        if token.text in NAME_ARTICLES and token.whitespace_ and doc[token.i + 1].text[:1].isupper() and not _starts_sentence(token)
    ]
    if not spans:
        return doc
    with doc.retokenize() as retokenizer:
        for start, end in spans:
            retokenizer.merge(doc[start:end], attrs={"POS": "PROPN", "LEMMA": doc[start:end].text})
    return doc


SENTENCE_OPENERS = frozenset({".", "!", "?", "…", ":", ";", "«", '"', "“", "(", "-", "–", "—"})


def _starts_sentence(token: Any) -> bool:
    """Whether a token opens a sentence, where French writes a capital whatever the word."""
    return token.i == 0 or token.doc[token.i - 1].text in SENTENCE_OPENERS


def join_words(doc: Any) -> Any:
    """One token per written word or name: :func:`join_hyphens`, then :func:`join_name_articles`."""
    return join_name_articles(join_hyphens(doc))


def add_word_joining(nlp: Any) -> Any:
    """Add :func:`join_words` to a spaCy pipeline, last (once)."""
    from spacy.language import Language

    if not Language.has_factory("join_words"):
        Language.component("join_words", func=join_words)
    if "join_words" not in nlp.pipe_names:
        nlp.add_pipe("join_words", last=True)
    return nlp


def tag_of(token: Any) -> str:
    """One letter per token for the pattern grammar."""
    text = token.text
    if not text.strip() or token.is_punct:
        return "O"
    lower = text.lower()
    if lower in FILLERS or lower in SENTENCE_ADVERBS or lower in LOCUTION_NOUNS or token.lemma_.lower() in LOCUTION_NOUNS:
        return "O"
    if lower in TIME_WORDS or CLOCK.match(lower):
        return "O"
    if not any(c.isalnum() for c in text) or "[" in text or "]" in text or INVERTED.search(text):
        return "O"
    if ACRONYM.match(text) and token.pos_ in {"NOUN", "PROPN", "X", "ADJ"}:
        return "N"
    if token.pos_ == "PROPN" or (token.pos_ == "X" and text[:1].isupper()):
        return "P"
    if token.pos_ == "X" and text.isalpha() and len(text) > 2 and not token.is_stop:
        return "N"  # a borrowed word (« smart city », « open data »): spaCy tags it X
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


def _surface(span: Sequence[Any]) -> str:
    """A phrase as said: lower-cased, unless a proper noun, a capital inside it (« RGPD »,
    « La Rochelle ») or a capital inside a sentence (« chez Cisco ») says its case matters."""
    surface = "".join(t.text_with_ws for t in span).strip()
    first = span[0]
    named = first.text[:1].isupper() and (first.pos_ in {"PROPN", "X"} or not _starts_sentence(first))
    return surface if named or any(c.isupper() for c in surface[1:]) else surface.lower()


Token = tuple[str, str, str]
"""A word as the theme filing reads it: its text, lower-cased form and lemma."""


def tokens_of(doc: Any) -> tuple[Token, ...]:
    """A parsed sentence's words, punctuation left out."""
    return tuple((t.text, t.lower_, lemma_of(t)) for t in doc if not t.is_punct and t.text.strip())


def lemma_of(token: Any) -> str:
    """The lower-cased lemma of a token (an acronym is its own lemma)."""
    text = str(token.text)
    if ACRONYM.match(text):
        return text.lower()
    return str(token.lemma_ or text).lower().replace("’", "'")


ARTICLES = {
    "de": ("de", "des", "du", "d'", "d’"),
    "des": ("de", "des", "du", "d'", "d’"),
    "du": ("de", "des", "du", "d'", "d’"),
    "d'": ("de", "des", "du", "d'", "d’"),
    "d’": ("de", "des", "du", "d'", "d’"),
    "la": ("la", "le", "les", "l'", "l’"),
    "le": ("la", "le", "les", "l'", "l’"),
    "les": ("la", "le", "les", "l'", "l’"),
    "l'": ("la", "le", "les", "l'", "l’"),
    "l’": ("la", "le", "les", "l'", "l’"),
}


def _forms(word: str) -> list[str]:
    """A term's word as it may be said: singular or plural (-s, -x, -al/-aux), any article."""
    if word in ARTICLES:
        return list(ARTICLES[word])
    forms = {word, word + "s", word + "x"}
    if word.endswith(("s", "x")):
        forms.add(word[:-1])
    if word.endswith("al"):
        forms.add(word[:-2] + "aux")
    if word.endswith("aux"):
        forms.add(word[:-3] + "al")
    return sorted(forms)


def _term_words(nlp: Any, term: str) -> list[str]:
    """A term's words as the pipeline's documents hold them: hyphenated words whole when the
    pipeline joins them (« start-up »)."""
    tokens = list(nlp.tokenizer(term))
    words = [t.text for t in tokens]
    if "join_words" in nlp.pipe_names:
        for start, end in reversed(hyphenated_spans(tokens)):
            words[start:end] = ["".join(words[start:end])]
    return [w for w in words if w.strip()]


def _word_pattern(word: str) -> dict[str, Any]:
    """How a term's word is matched: written with a capital (« État », « Europe »), only with
    its capital, so « l'État » is the State and « en bon état » is not; else in any case."""
    if any(c.isupper() for c in word):
        return {"ORTH": {"IN": sorted({*_forms(word), *(f.upper() for f in _forms(word))})}}
    return {"LOWER": {"IN": _forms(word)}}


class TermSpan(NamedTuple):
    """A theme file's term said in a sentence: its tokens, its themes, and whether the term
    is written with a capital (« État »)."""

    start: int
    end: int
    themes: tuple[str, ...]
    cased: bool = False


class TermMatcher:
    """The theme file's terms found where they are said, as editors write them: token by token
    on the lower-cased text, or with its capitals for a term written with one (« État »),
    tokenised by the transcript's own tokenizer (so « start-up » and « gaz à effet de serre »
    match whole), singular or plural; never lemmatised out of context (spaCy lemmatises
    « empreinte » alone as « empreindre »)."""

    def __init__(self, nlp: Any, terms: Mapping[str, Sequence[str]]) -> None:
        from spacy.matcher import Matcher

        self.matcher = Matcher(nlp.vocab)
        self.themes: dict[int, tuple[str, ...]] = {}
        self.cased: set[int] = set()
        for term, themes in terms.items():
            words = _term_words(nlp, term)
            if not words:
                continue
            key = nlp.vocab.strings.add(f"term:{term.lower()}")
            self.matcher.add(f"term:{term.lower()}", [[_word_pattern(w) for w in words]])
            self.themes[key] = tuple(dict.fromkeys([*self.themes.get(key, ()), *themes]))
            if any(c.isupper() for c in term):
                self.cased.add(key)

    def spans(self, doc: Any) -> list[TermSpan]:
        """The terms said in ``doc``, the longest of overlapping ones."""
        found = sorted(
            (TermSpan(start, end, self.themes[key], key in self.cased) for key, start, end in self.matcher(doc)),
            key=lambda m: (m.start, -m.end),
        )
        kept: list[TermSpan] = []
        for span in found:
            if kept and span.start < kept[-1].end:
                continue
            kept.append(span)
        return kept


def term_index(themes: Iterable[Any]) -> dict[str, tuple[str, ...]]:
    """Each term of the theme file, with the themes and axes that name it."""
    index: dict[str, tuple[str, ...]] = {}
    for theme in themes:
        for term in theme.terms:
            index[term] = (*index.get(term, ()), theme.id)
    return index


def _heard(sentence: Sentence, tokens: Sequence[Any], start: int, end: int) -> float:
    """The lowest probability Whisper gave a word of a phrase (tokens ``start``-``end`` of a
    sentence), 1 when the sentence has no word probabilities."""
    begin, stop = tokens[start].idx, tokens[end - 1].idx + len(tokens[end - 1].text)
    probabilities = [p for a, b, p in sentence.heard if a < stop and b > begin]
    return min(probabilities) if probabilities else 1.0


def _joined(full: Candidate, part: Candidate, surface: str) -> Candidate:
    """One candidate for two forms of a concept (a short name and its full form, an acronym
    and its expansion): the full form's, shown as ``surface``, with the occurrences, themes
    and the earlier first mention of both, and their ``heard`` weighted by occurrences."""
    n, m = len(full.occurrences), len(part.occurrences)
    return replace(
        full,
        surface=surface,
        occurrences=tuple(sorted([*full.occurrences, *part.occurrences], key=lambda o: (o.sentence, o.start))),
        first=min(full.first, part.first),
        themes=tuple(sorted({*full.themes, *part.themes})),
        heard=(full.heard * n + part.heard * m) / (n + m) if n + m else 1.0,
    )


def collect_candidates(
    docs: Sequence[Any], sentences: Sequence[Sentence], options: KeywordOptions, terms: TermMatcher | None = None
) -> dict[str, Candidate]:
    """Candidates of one session keyed by lemma, from its parsed sentences (spaCy docs). The
    theme file's terms (``terms``) are candidates wherever they are said, whole; the pieces
    of a term (« serre », « start ») are not candidates there."""
    total = max(sum(len(d) for d in docs), 1)
    seen = 0
    builders: dict[str, CandidateBuilder] = {}
    for doc, sentence in zip(docs, sentences, strict=True):
        tokens = list(doc)
        tags = "".join(tag_of(t) for t in tokens)
        lemmas = [lemma_of(t) for t in tokens]
        maximal = {m.span() for m in (PATTERN if options.de_phrases else SIMPLE).finditer(tags)}
        said = terms.spans(doc) if terms else []
        for start, end, themes, cased in said:
            words = tuple(lemmas[i] for i in range(start, end) if any(c.isalnum() for c in tokens[i].text) and tags[i] not in "DT")
            # « État » the State keeps its capital in its key, apart from « état » (a state)
            lemma = " ".join(
                tokens[i].text if cased and tokens[i].text[:1].isupper() else lemmas[i] for i in range(start, end) if tokens[i].text.strip()
            )
            builder = builders.setdefault(lemma, CandidateBuilder(lemma=lemma, words=words, first=(seen + start) / total))
            builder.surfaces["".join(t.text_with_ws for t in tokens[start:end]).strip() if cased else _surface(tokens[start:end])] += 1
            builder.occurrences.append(Occurrence(sentence.index, sentence.start, sentence.end))
            builder.heard.append(_heard(sentence, tokens, start, end))
            builder.alone += 1
            builder.themes.update(themes)
        for start, end in _phrases(tags, options):
            # a term counted above, a piece of it (« serre »), or a phrase that cuts it in two
            # (« émissions de gaz » of « gaz à effet de serre »)
            if any(s <= start and end <= e or start < s < end < e or s < start < e < end for s, e, _, _ in said):
                continue
            words = tuple(lemmas[i] for i in range(start, end) if tags[i] in "NPA9")
            if not words or len(words) > options.max_words:
                continue
            low = "".join(t.text_with_ws for t in tokens[start:end]).strip().lower()
            if any(p in low for p in FILLER_PHRASES) or (len(words) == 1 and len(low) < 3) or all(w.isdigit() for w in words):
                continue
            if len(words) == 1 and words[0] in LIGHT_NOUNS:
                continue
            lemma = " ".join(lemmas[start:end])
            builder = builders.setdefault(lemma, CandidateBuilder(lemma=lemma, words=words, first=(seen + start) / total))
            builder.surfaces[_surface(tokens[start:end])] += 1
            builder.occurrences.append(Occurrence(sentence.index, sentence.start, sentence.end))
            builder.heard.append(_heard(sentence, tokens, start, end))
            builder.alone += (start, end) in maximal
        seen += len(tokens)
    found = {k: b.freeze() for k, b in builders.items() if b.alone or not options.standalone}
    found = merge_spellings(found)
    found = merge_abbreviations(found) if options.merge_abbreviations else found
    return merge_name_variants(found) if options.merge_names else found


def _spelling_key(lemma: str) -> str:
    return "".join(c for c in lemma if c not in "- ")


def merge_spellings(candidates: Mapping[str, Candidate]) -> dict[str, Candidate]:
    """One entry per spelling of a word: « startup », « start-up » and « start up »,
    « cyber-attaque » and « cyberattaque », differ only by hyphens and spaces; they join the
    one said most often."""
    groups: dict[str, list[Candidate]] = {}
    for candidate in candidates.values():
        groups.setdefault(_spelling_key(candidate.lemma), []).append(candidate)
    merged = dict(candidates)
    for group in groups.values():
        if len(group) < 2:
            continue
        main, *others = sorted(group, key=lambda c: (-len(c.occurrences), c.lemma))
        for other in others:
            main = _joined(main, other, main.surface)
            del merged[other.lemma]
        merged[main.lemma] = main
    return merged


def is_name(surface: str) -> bool:
    """Whether a phrase is written as a proper name: every word capitalised."""
    words = surface.split()
    return bool(words) and all(w[:1].isupper() for w in words)


TITLES = frozenset({"m.", "mme", "mlle", "me", "dr", "pr", "mgr"})
INITIAL = re.compile(r"^[A-ZÀ-Ý]\.$")


def _short_name(candidate: Candidate) -> bool:
    """A name said without its first name: one word (« Montebourg »), or after an initial or
    a title (« A. Montebourg », « M. Ayrault »)."""
    first = candidate.surface.split()[0]
    return len(_name_words(candidate)) == 1 or INITIAL.match(first) is not None or first.lower() in TITLES


def _name_words(candidate: Candidate) -> list[str]:
    """A name's words, those of a joined token included (« la rochelle »)."""
    return " ".join(candidate.words).split()


def merge_name_variants(candidates: Mapping[str, Candidate]) -> dict[str, Candidate]:
    """One entry per person or place: a name said short (« Arafat », « A. Montebourg »,
    « M. Ayrault », « Rochelle » at the start of a sentence) joins the one full name of the
    session that ends with it (« Yasser Arafat », « La Rochelle »), with the occurrences of
    both. A short form that ends two full names (« Williams » with « Serena Williams » and
    « Venus Williams ») stays apart."""
    full_names: dict[str, list[Candidate]] = {}
    for candidate in candidates.values():
        if len(_name_words(candidate)) >= 2 and is_name(candidate.surface) and not _short_name(candidate):
            full_names.setdefault(_name_words(candidate)[-1], []).append(candidate)
    merged = dict(candidates)
    for lemma, candidate in candidates.items():
        if not is_name(candidate.surface) or not _short_name(candidate) or ACRONYM.match(candidate.surface):
            continue
        last = _name_words(candidate)[-1]
        if len(full_names.get(last, ())) != 1:
            continue
        full = merged[full_names[last][0].lemma]
        merged[full.lemma] = _joined(full, candidate, full.surface)
        del merged[lemma]
    return merged


def merge_abbreviations(candidates: Mapping[str, Candidate]) -> dict[str, Candidate]:
    """One entry per concept: an acronym said in the session beside a phrase whose initials
    it spells (« SI », « système d'information »; « RGPD », « règlement général sur la
    protection des données » when the phrase is a candidate) joins that phrase, shown as
    « système d'information (SI) », with the occurrences of both."""
    merged = dict(candidates)
    by_initials: dict[str, list[Candidate]] = {}
    for candidate in candidates.values():
        if len(candidate.words) >= 2 and not ACRONYM.match(candidate.surface):
            by_initials.setdefault("".join(w[0] for w in candidate.words if w), []).append(candidate)
    for lemma, candidate in candidates.items():
        if not ACRONYM.match(candidate.surface) or len(candidate.words) != 1:
            continue
        expansions = by_initials.get(lemma.lower())
        if not expansions:
            continue
        full = max(expansions, key=lambda c: (len(c.occurrences), c.lemma))
        merged[full.lemma] = _joined(full, candidate, f"{full.surface} ({candidate.surface})")
        del merged[lemma]
    return merged


@dataclass(frozen=True)
class Analysis:
    """What parsing a session gives: its candidates, and each sentence's words (for filing
    its passages under themes without parsing it again)."""

    candidates: dict[str, Candidate]
    words: tuple[tuple[Token, ...], ...]


def analyse_session(
    transcript: Transcript,
    nlp: Any,
    options: KeywordOptions | None = None,
    sentences: Sequence[Sentence] | None = None,
    terms: Mapping[str, Sequence[str]] | None = None,
) -> Analysis:
    """Phase one: parse a transcript's sentences with spaCy, collect its candidates
    (``terms``: the theme file's terms and their themes, see :func:`term_index`) and keep
    each sentence's words."""
    sentences = sentences if sentences is not None else sentences_of(transcript, heard=True)
    docs = list(nlp.pipe([s.text for s in sentences], batch_size=256))
    candidates = collect_candidates(docs, sentences, options or KeywordOptions(), TermMatcher(nlp, terms) if terms else None)
    return Analysis(candidates, tuple(tokens_of(doc) for doc in docs))


def analyse(
    transcript: Transcript,
    nlp: Any,
    options: KeywordOptions | None = None,
    sentences: Sequence[Sentence] | None = None,
    terms: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Candidate]:
    """The candidates of :func:`analyse_session`."""
    return analyse_session(transcript, nlp, options, sentences, terms).candidates
