"""Keywords per theme with spaCy (fr_core_news_md).

Candidates are noun phrases found by part-of-speech patterns over every sentence
(:mod:`.candidates`), grouped by their lower-cased lemmas so that plural, case and elision
variants count as one; oral fillers and discourse markers never become candidates
(:mod:`.lexicon`). They are ranked by a TF-IDF score in which the document frequency comes
from the sessions already processed, smoothed by a background French frequency, with a boost
for words of the session title and for early first mentions (:mod:`.ranking`); each keyword
gets its themes (:mod:`.themes`). :mod:`.io` reads and writes ``keywords.json`` and
``keywords.md``. The stage function is :func:`extract_keywords`; it writes no file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import __version__
from ..catalogue import Theme
from ..curation import Curation
from ..evaluation import normalize
from ..sentences import Sentence, sentences_of
from ..transcript import Transcript
from .candidates import (
    INITIAL,
    TITLES,
    Analysis,
    TermMatcher,
    Token,
    add_word_joining,
    analyse,
    analyse_session,
    collect_candidates,
    is_name,
    lemma_of,
    tag_of,
    term_index,
    tokens_of,
)
from .filing import FilingWeights, ThemeLexicon, file_passages
from .io import dumps, load, loads, to_markdown
from .model import Candidate, Keyword, KeywordOptions, Occurrence, SessionKeywords, ThemeKeywords, ThemePassage
from .ranking import Background, document_frequencies, rank, wordfreq_background
from .themes import ThemeModel, lemmatize_terms, theme_summaries

KEYWORDS_VERSION = 5
"""Bumped when the extractor's output changes for the same inputs."""

__all__ = [
    "Analysis",
    "Background",
    "FilingWeights",
    "Candidate",
    "Keyword",
    "KeywordOptions",
    "Occurrence",
    "SessionKeywords",
    "ThemeKeywords",
    "TermMatcher",
    "ThemeLexicon",
    "ThemeModel",
    "ThemePassage",
    "Token",
    "analyse",
    "analyse_session",
    "file_passages",
    "collect_candidates",
    "document_frequencies",
    "dumps",
    "extract_keywords",
    "inputs",
    "lemma_of",
    "lemmatize_terms",
    "load",
    "load_nlp",
    "loads",
    "rank",
    "tag_of",
    "term_index",
    "theme_summaries",
    "to_markdown",
    "tokens_of",
    "wordfreq_background",
]


def inputs(
    transcript_sha256: str,
    themes: Sequence[Theme],
    title: str,
    options: KeywordOptions,
    series_digest: str,
    speakers: Sequence[str] = (),
    session_themes: Sequence[str] = (),
) -> dict[str, object]:
    """What a session's keywords depend on, the series' document frequencies, the filing
    layer's weights and the catalogue's themes of the session (a prior) included."""
    from dataclasses import asdict

    return {
        "transcript_sha256": transcript_sha256,
        "themes": [asdict(t) for t in themes],
        "title": title,
        "speakers": list(speakers),
        "session_themes": list(session_themes),
        "options": asdict(options),
        "series": series_digest,
        "filing": FilingWeights.fitted().to_json(),
        "version": KEYWORDS_VERSION,
    }


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
    sentences: Sequence[Sentence] | None = None,
    curation: Curation | None = None,
    speakers: Sequence[str] = (),
    words: Sequence[Sequence[Token]] | None = None,
    session_themes: Sequence[str] = (),
) -> SessionKeywords:
    """Phase two: rank a session's candidates against the series, assign themes, file the
    session's passages under themes and measure each theme's share of the session. An
    editor's ``curation`` pins keywords (first, whatever their rank) and bans others. The
    names of the session's ``speakers`` are never keywords (« Julien Moreau », « Moreau »):
    the draft lists them apart. ``words``: each sentence's words from
    :func:`analyse_session` (parsed here when not given); ``session_themes``: the
    catalogue's themes of the session, a prior (``options.catalogue_prior``)."""
    options = options or KeywordOptions()
    sentences = sentences if sentences is not None else sentences_of(transcript)
    if words is None:
        words = [tokens_of(doc) for doc in nlp.pipe([s.text for s in sentences], batch_size=256)]
    passages: tuple[ThemePassage, ...] = ()
    if theme_model.lexicon is not None and theme_model.weights is not None:
        prior = dict.fromkeys(session_themes, options.catalogue_prior)
        passages = file_passages(sentences, words, theme_model.lexicon, theme_model.weights, options.theme_confidence, prior)
    title_words = frozenset(lemma_of(t) for t in nlp(title) if tag_of(t) in "NPA") if title else frozenset()
    people = _speaker_names(speakers)
    candidates = {lemma: c for lemma, c in candidates.items() if not _names_a_speaker(c.surface, people)}
    series = (lambda c: theme_model.series_weight(c.words, options.series_words)) if options.series_words else None
    ranked = rank(candidates, document_frequency or {}, documents, options, background, title_words, series)
    provenance: dict[str, Any] = {}
    if curation:
        banned = {lemma for term in curation.ban for lemma in [_candidate_of(term, candidates, nlp)] if lemma}
        pinned = {term: _candidate_of(term, candidates, nlp) for term in curation.pin}
        first = list(dict.fromkeys(lemma for lemma in pinned.values() if lemma and lemma not in banned))
        scores = dict(ranked)
        ranked = [(lemma, scores[lemma]) for lemma in first] + [(k, v) for k, v in ranked if k not in banned and k not in first]
        provenance["curation"] = {
            "pinned": list(curation.pin),
            "banned": list(curation.ban),
            "pinned_not_said": [term for term, lemma in pinned.items() if not lemma],
        }
        ranked = ranked[: max(options.top_n, len(first))]
    else:
        ranked = ranked[: options.top_n]
    keywords = tuple(
        Keyword(
            lemma=lemma,
            surface=candidates[lemma].surface,
            score=round(score, 4),
            count=len(candidates[lemma].occurrences),
            occurrences=candidates[lemma].occurrences,
            themes=theme_model.assign(
                nlp, lemma, options.theme_similarity, options.theme_margin, candidates[lemma].themes, candidates[lemma].surface
            ),
        )
        for lemma, score in ranked
    )
    return SessionKeywords(
        session_id=transcript.session_id,
        keywords=keywords,
        themes=theme_summaries(sentences, keywords, theme_model, candidates, passages),
        candidates=tuple(sorted(candidates)),
        provenance=provenance,
        passages=passages,
    )


def _speaker_names(names: Sequence[str]) -> list[frozenset[str]]:
    """Each speaker's name as a set of normalised words."""
    return [words for words in (frozenset(normalize(w) for w in name.split() if normalize(w)) for name in names) if words]


def _names_a_speaker(surface: str, people: Sequence[frozenset[str]]) -> bool:
    """Whether a candidate written as a name is a speaker's name, whole or in part
    (« Moreau », « M. Moreau »)."""
    if not people or not is_name(surface):
        return False
    words = {normalize(w) for w in surface.split() if not INITIAL.match(w) and w.lower() not in TITLES} - {""}
    return bool(words) and any(words <= name for name in people)


def _candidate_of(term: str, candidates: Mapping[str, Candidate], nlp: Any) -> str:
    """The candidate an editor's term names: by its lemmas, else by its spelling (no case,
    no accents); empty when the session never says it."""
    key = " ".join(lemma_of(t) for t in nlp(term))
    if key in candidates:
        return key
    wanted = normalize(term)
    return next((lemma for lemma, c in candidates.items() if normalize(c.surface) == wanted or normalize(lemma) == wanted), "")


def load_nlp(name: str = "fr_core_news_md") -> Any:
    """The spaCy French pipeline, without the parser and NER the extractor does not use."""
    import spacy

    from ..errors import ModelError

    try:
        return add_word_joining(spacy.load(name, exclude=["parser", "ner", "senter"]))
    except OSError as exc:
        raise ModelError(
            None, f"spaCy model {name} is not installed", f"run `make setup` or `pip install {name.replace('_', '-')}`"
        ) from exc


def provenance(nlp: Any, transcript_sha256: str, options_digest: str, documents: int) -> dict[str, object]:
    """Where a session's keywords came from (for ``keywords.json`` and the archive)."""
    from importlib.metadata import version

    from ..text import utc_now

    return {
        "transcript_sha256": transcript_sha256,
        "options": options_digest,
        "spacy_version": version("spacy"),
        "spacy_model": f"{nlp.meta.get('lang')}_{nlp.meta.get('name')}-{nlp.meta.get('version')}",
        "series_sessions": documents,
        "pipeline_version": __version__,
        "generated_utc": utc_now(),
    }
