"""Theme assignment: seed terms first, word vectors second; each theme's share of a session."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..catalogue import Theme
from ..sentences import Sentence
from .candidates import lemma_of
from .model import Candidate, Keyword, ThemeKeywords


def _vector(nlp: Any, text: str, weights: Mapping[str, float] | None = None) -> Any:
    """Mean word vector of the content words of a text (None when none has a vector), each
    word weighted by its specificity when ``weights`` are given (a word they do not hold
    weighs 1)."""
    import numpy as np

    words = [w for w in text.lower().split() if nlp.vocab.has_vector(w) and not nlp.vocab[w].is_stop]
    if not words:
        return None
    scale = [weights.get(w, 1.0) if weights is not None else 1.0 for w in words]
    if sum(scale) <= 0:
        return None
    return np.average([nlp.vocab[w].vector for w in words], axis=0, weights=scale)


def theme_word_specificity(nlp: Any, themes: Sequence[Theme]) -> dict[str, float]:
    """How specific each word of the themes' texts (label, description, terms) is to one
    theme: log(N / themes whose text holds it) / log(N), 1 for a word of one theme, 0 for a
    word of every theme. Keyed by lower-cased form and by lemma. A word the themes never
    use is not in the map."""
    import math

    if len(themes) < 2:
        return {}
    holders: dict[str, set[str]] = defaultdict(set)
    for theme, doc in zip(themes, nlp.pipe([" ".join((t.label, t.description, *t.terms)) for t in themes]), strict=True):
        for token in doc:
            if token.is_alpha and not token.is_stop:
                holders[token.lower_].add(theme.id)
                holders[lemma_of(token)].add(theme.id)
    n = len(themes)
    return {word: math.log(n / len(ids)) / math.log(n) for word, ids in holders.items()}


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
    keys = {" ".join(lemma_of(t) for t in doc if not t.is_punct and t.text.strip()) for doc in nlp.pipe(list(terms))}
    return frozenset(k for k in keys if k)


@dataclass(frozen=True)
class ThemeModel:
    """What theme assignment needs, computed once per theme file: each theme's seed terms
    as lemma keys, and a word vector per seed term and label (its anchors)."""

    themes: tuple[Theme, ...]
    seeds: Mapping[str, frozenset[str]]
    anchors: Mapping[str, tuple[Any, ...]]
    specificity: Mapping[str, float] = field(default_factory=dict)
    """Each word of the themes' texts: how specific it is to one theme (see
    :func:`theme_word_specificity`). Words every theme uses (« données », « ville »,
    « numérique ») weigh little in the anchors and bring a keyword near no theme."""

    @classmethod
    def build(cls, nlp: Any, themes: Sequence[Theme]) -> ThemeModel:
        """Lemmatise the seeds, weigh the words of the themes, compute the anchors."""
        specificity = theme_word_specificity(nlp, [t for t in themes if t.kind == "theme"])
        anchors = {}
        for theme in themes:
            vectors = (_vector(nlp, text, specificity) for text in (theme.label, *theme.terms))
            anchors[theme.id] = tuple(v for v in vectors if v is not None)
        seeds = {t.id: lemmatize_terms(nlp, t.terms) for t in themes}
        return cls(themes=tuple(themes), seeds=seeds, anchors=anchors, specificity=specificity)

    def similarity(self, vector: Any, theme_id: str) -> float:
        """Cosine similarity of a vector to the nearest anchor of a theme."""
        return max((_cosine(vector, anchor) for anchor in self.anchors[theme_id]), default=0.0)

    def weight(self, phrase: str) -> float:
        """How specific a keyword's words are to one theme, on average (a word the themes
        never use counts 1): « données » 0.2, « cyberattaque » 1."""
        words = [w for w in phrase.split() if len(w) > 2]
        return sum(self.specificity.get(w, 1.0) for w in words) / len(words) if words else 1.0

    def assign(self, nlp: Any, lemma: str, threshold: float, margin: float, said_as: Sequence[str] = ()) -> tuple[str, ...]:
        """Themes and axes of a keyword, per kind: those one of whose terms the keyword is, as
        said (``said_as``, from :class:`~.candidates.TermMatcher`); else those whose longest
        seed term the keyword contains; failing that, for themes only, the theme whose nearest
        seed term is similar enough and clearly closer than any other's; failing that, none.
        Axes are abstract (« risque », « capacitation »): word vectors place too much near
        them, so they go by their seed terms alone."""
        chosen: list[str] = []
        vector = None
        for kind in ("theme", "axis"):
            pool = [t for t in self.themes if t.kind == kind]
            named = [t.id for t in pool if t.id in said_as]
            if named:
                chosen += named
                continue
            lengths = {t.id: max((len(seed.split()) for seed in self.seeds[t.id] if _contains(lemma, seed)), default=0) for t in pool}
            longest = max(lengths.values(), default=0)
            if longest:
                chosen += [t.id for t in pool if lengths[t.id] == longest]
                continue
            if kind == "axis":
                continue
            vector = _vector(nlp, lemma, self.specificity) if vector is None else vector
            weight = self.weight(lemma)
            ranked = sorted(((weight * self.similarity(vector, t.id), t.id) for t in pool), reverse=True)
            if ranked and ranked[0][0] >= threshold and (len(ranked) == 1 or ranked[0][0] - ranked[1][0] >= margin):
                chosen.append(ranked[0][1])
        return tuple(chosen)


def theme_summaries(
    sentences: Sequence[Sentence], keywords: Sequence[Keyword], theme_model: ThemeModel, candidates: Mapping[str, Candidate]
) -> tuple[ThemeKeywords, ...]:
    """Per theme: its keywords in rank order, and its coverage: the share of the session's
    speech time spent in sentences where one of its keywords or seed terms is said."""
    total = sum(max(s.end - s.start, 0.0) for s in sentences) or 1.0
    duration = {s.index: max(s.end - s.start, 0.0) for s in sentences}
    said: dict[str, set[int]] = defaultdict(set)
    for keyword in keywords:
        for theme_id in keyword.themes:
            said[theme_id].update(o.sentence for o in keyword.occurrences)
    for lemma, candidate in candidates.items():
        for theme_id in candidate.themes:
            said[theme_id].update(o.sentence for o in candidate.occurrences)
        for theme_id, seeds in theme_model.seeds.items():
            if any(_contains(lemma, seed) for seed in seeds):
                said[theme_id].update(o.sentence for o in candidate.occurrences)
    return tuple(
        ThemeKeywords(
            theme_id=theme.id,
            label=theme.label,
            keywords=tuple(k.lemma for k in keywords if theme.id in k.themes),
            coverage=round(min(1.0, sum(duration.get(i, 0.0) for i in said[theme.id]) / total), 4),
        )
        for theme in theme_model.themes
    )
