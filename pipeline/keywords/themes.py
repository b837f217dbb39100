"""Theme assignment: seed terms first, word vectors second; each theme's share of a session."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..catalogue import Theme
from ..sentences import Sentence
from .candidates import is_name, lemma_of
from .filing import FilingWeights, ThemeLexicon, shares
from .model import Candidate, Keyword, ThemeKeywords, ThemePassage


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


def _words(doc: Any) -> frozenset[str]:
    """The content words of a parsed text, as lemmas and as lower-cased forms."""
    words: set[str] = set()
    for token in doc:
        if token.is_alpha and not token.is_stop and len(token.text) > 2:
            words.update((token.lower_, lemma_of(token)))
    return frozenset(words)


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


@dataclass(frozen=True)
class VectorSpace:
    """Word vectors without what every word shares: « all-but-the-top » (Mu & Viswanath,
    ICLR 2018) subtracts the mean vector of the model's table and its top principal
    directions, which carry word frequency and morphology more than meaning (in spaCy's
    French vectors « mobilisation » is 0.85 from « mutualisation » before, and not after)."""

    mean: Any
    top: Any
    """The top principal directions, one per row."""

    @classmethod
    def of(cls, nlp: Any, directions: int = 3) -> VectorSpace:
        """The space of a spaCy pipeline's vector table (``directions`` = d/100, as the paper
        advises)."""
        import numpy as np

        table = np.asarray(nlp.vocab.vectors.data, dtype=np.float64)
        if not table.size:
            return cls(mean=None, top=None)
        mean = table.mean(axis=0)
        centred = table - mean
        _, vectors = np.linalg.eigh(centred.T @ centred)  # principal directions, ascending
        return cls(mean=mean, top=vectors[:, ::-1][:, :directions].T)

    def project(self, vector: Any) -> Any:
        """A vector with the mean and the top directions taken out, at unit length."""
        import numpy as np

        if vector is None:
            return None
        if self.mean is not None:
            vector = vector - self.mean
            vector = vector - self.top.T @ (self.top @ vector)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else None


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
    as lemma keys, and a word vector per seed term and label (its anchors), projected into
    a :class:`VectorSpace`."""

    themes: tuple[Theme, ...]
    seeds: Mapping[str, frozenset[str]]
    anchors: Mapping[str, tuple[Any, ...]]
    specificity: Mapping[str, float] = field(default_factory=dict)
    """Each word of the themes' texts: how specific it is to one theme (see
    :func:`theme_word_specificity`). Words every theme uses (« données », « ville »,
    « numérique ») weigh little in the anchors and bring a keyword near no theme."""

    space: VectorSpace | None = None
    """Where keywords and anchors are compared (see :class:`VectorSpace`)."""
    anchor_words: Mapping[str, tuple[frozenset[str], ...]] = field(default_factory=dict)
    """The content words (lemmas and lower-cased forms) of each anchor, in the anchors' order."""
    cased: frozenset[str] = frozenset()
    """Seeds written with a capital (« État », « Europe »): a phrase holds one only when it
    is said with a capital too (« chef d'État », not « en bon état »)."""
    lexicon: ThemeLexicon | None = None
    """Every theme's field, to file passages under themes (see :mod:`.filing`)."""
    weights: FilingWeights | None = None
    """The fitted layer that turns a passage's evidence into probabilities."""

    @classmethod
    def build(cls, nlp: Any, themes: Sequence[Theme], weights: FilingWeights | None = None) -> ThemeModel:
        """Lemmatise the seeds, weigh the words of the themes, compute the anchors, read the
        themes' fields (``weights``: the filing layer, the fitted one by default)."""
        specificity = theme_word_specificity(nlp, [t for t in themes if t.kind == "theme"])
        space = VectorSpace.of(nlp)
        anchors = {}
        anchor_words = {}
        for theme in themes:
            texts = (theme.label, *theme.terms)
            pairs = [(text, space.project(_vector(nlp, text, specificity))) for text in texts]
            anchors[theme.id] = tuple(v for _, v in pairs if v is not None)
            words = [_words(doc) for doc in nlp.pipe([text for text, v in pairs if v is not None])]
            anchor_words[theme.id] = tuple(words)
        seeds = {t.id: lemmatize_terms(nlp, t.terms) for t in themes}
        cased = lemmatize_terms(nlp, [term for t in themes for term in t.terms if any(c.isupper() for c in term)])
        return cls(
            themes=tuple(themes),
            seeds=seeds,
            anchors=anchors,
            specificity=specificity,
            cased=cased,
            anchor_words=anchor_words,
            space=space,
            lexicon=ThemeLexicon.build(nlp, themes),
            weights=weights or FilingWeights.fitted(),
        )

    def holds(self, lemma: str, surface: str, seed: str) -> bool:
        """Whether a phrase (lemma key and surface as said) holds a seed term."""
        if not _contains(lemma, seed):
            return False
        return seed not in self.cased or any(c.isupper() for c in surface)

    def similarity(self, vector: Any, theme_id: str, words: frozenset[str] = frozenset()) -> float:
        """Cosine similarity of a (projected) vector to the centre of a theme's anchors, its
        label and terms, leaving out the anchors of which the phrase (its content ``words``)
        is only a part: « étude » is not « étude d'impact », nor « ouverture » « ouverture
        des données »."""
        import numpy as np

        fragments = self.anchor_words.get(theme_id, ())
        kept = [anchor for i, anchor in enumerate(self.anchors[theme_id]) if not (words and i < len(fragments) and words < fragments[i])]
        return _cosine(vector, np.mean(kept, axis=0)) if kept else 0.0

    def weight(self, phrase: str) -> float:
        """How specific a keyword's words are to one theme, on average (a word the themes
        never use counts 1): « données » 0.2, « cyberattaque » 1."""
        words = [w for w in phrase.split() if len(w) > 2]
        return sum(self.specificity.get(w, 1.0) for w in words) / len(words) if words else 1.0

    def series_weight(self, words: Sequence[str], strength: float) -> float:
        """What a keyword keeps of its score for being a word every theme uses: a one-word
        keyword keeps 1 - strength × (1 - its specificity); a phrase, or a word the themes
        do not use, keeps all of it."""
        if len(words) != 1 or words[0] not in self.specificity:
            return 1.0
        return 1.0 - strength * (1.0 - self.specificity[words[0]])

    def assign(
        self, nlp: Any, lemma: str, threshold: float, margin: float, said_as: Sequence[str] = (), surface: str = ""
    ) -> tuple[str, ...]:
        """Themes and axes of a keyword, per kind: those one of whose terms the keyword is, as
        said (``said_as``, from :class:`~.candidates.TermMatcher`); else those whose longest
        seed term the keyword holds (:meth:`holds`); failing that, for themes only and for a
        keyword that is not a name, the theme whose anchors' centre is similar enough and
        clearly closer than any other's (:meth:`similarity`, times :meth:`weight`); failing
        that, none. Axes are abstract (« risque », « capacitation »): word vectors place too
        much near them, so they go by their seed terms alone. Names (« France », « Espagne »,
        « Samsung ») likewise: their vectors sit near « État » and « Europe » whatever the
        text says of them."""
        name = bool(surface) and is_name(surface)
        surface = surface or lemma
        chosen: list[str] = []
        vector = None
        for kind in ("theme", "axis"):
            pool = [t for t in self.themes if t.kind == kind]
            named = [t.id for t in pool if t.id in said_as]
            if named:
                chosen += named
                continue
            lengths = {
                t.id: max((len(seed.split()) for seed in self.seeds[t.id] if self.holds(lemma, surface, seed)), default=0) for t in pool
            }
            longest = max(lengths.values(), default=0)
            if longest:
                chosen += [t.id for t in pool if lengths[t.id] == longest]
                continue
            if kind == "axis" or name:
                continue
            if vector is None:
                vector = _vector(nlp, lemma, self.specificity)
                vector = self.space.project(vector) if self.space is not None else vector
            weight = self.weight(lemma)
            words = frozenset(w for w in lemma.split() if len(w) > 2)
            ranked = sorted(((weight * self.similarity(vector, t.id, words), t.id) for t in pool), reverse=True)
            if ranked and ranked[0][0] >= threshold and (len(ranked) == 1 or ranked[0][0] - ranked[1][0] >= margin):
                chosen.append(ranked[0][1])
        return tuple(chosen)


def theme_summaries(
    sentences: Sequence[Sentence],
    keywords: Sequence[Keyword],
    theme_model: ThemeModel,
    candidates: Mapping[str, Candidate],
    passages: Sequence[ThemePassage] = (),
) -> tuple[ThemeKeywords, ...]:
    """Per theme: its keywords in rank order, its expected share of the session's speech
    time and the share of time in passages filed under it (see :func:`.filing.shares`).
    An axis has the share of time in sentences where one of its keywords or seed terms is
    said. Themes first, most covered first, then axes in the theme file's order."""
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
            if any(theme_model.holds(lemma, candidate.surface, seed) for seed in seeds):
                said[theme_id].update(o.sentence for o in candidate.occurrences)
    kinds = {t.id: t.kind for t in theme_model.themes}
    filed = shares(passages, [t.id for t in theme_model.themes if t.kind == "theme"])
    summaries = []
    for theme in theme_model.themes:
        if theme.kind == "theme":
            coverage, share = filed[theme.id]
        else:
            coverage = share = round(min(1.0, sum(duration.get(i, 0.0) for i in said[theme.id]) / total), 4)
        summaries.append(
            ThemeKeywords(
                theme_id=theme.id,
                label=theme.label,
                keywords=tuple(k.lemma for k in keywords if theme.id in k.themes),
                coverage=coverage,
                share=share,
            )
        )
    themes = sorted((t for t in summaries if kinds[t.theme_id] == "theme"), key=lambda t: -t.coverage)
    return (*themes, *(t for t in summaries if kinds[t.theme_id] != "theme"))
