"""Filing a session's passages under the programme's themes, with a probability.

A session is cut into passages of about 120 words (whole sentences). In each passage the
words and phrases of each theme's field are counted — its label, terms and ``vocabulary`` in
``themes.toml``, matched by lemma or by form, each weighted by how specific it is to one
theme — and a small conditional-logit layer turns two features per theme (how densely and
how often its field is said) and a bias per theme into probabilities over the themes and
« no theme ». The layer's weights (:data:`WEIGHTS_FILE`) were fitted on the labelled dev
passages (``make bench-themes`` refits and cross-validates them), and they are shared by
every theme, so a theme an editor adds is filed by its vocabulary alone.

A passage is filed under its most probable theme only when that probability reaches
``KeywordOptions.theme_confidence``; below it the passage has no theme, and what a reader
sees (tags, theme pages, « Thèmes abordés ») says nothing rather than something false.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ..catalogue import Theme
from ..sentences import Sentence
from .candidates import Token, tokens_of
from .model import ThemePassage

WEIGHTS_FILE = "theme_weights.json"
"""The fitted layer, shipped in this package (see :meth:`FilingWeights.fitted`)."""
NO_THEME = "none"
PASSAGE_WORDS = 120
"""Words per passage: about fifty seconds of speech, within the length of the labelled
passages the layer was fitted on (50-250 words). 80, 120, 160 and 200 file the dev passages
alike (top-1 within 1.4 points); 120 follows a session's changes of subject closer."""


@dataclass(frozen=True)
class Entry:
    """A word or phrase of a theme's field, as the theme file writes it."""

    text: str
    themes: tuple[str, ...]
    weight: float
    """(log((N + 1) / themes that hold it) / log(N + 1))², N themes: 1 for a word of one theme,
    little for a word every theme holds."""
    cased: bool = False
    """Written with a capital (« État », « Europe »): matched only when said with one."""


@dataclass(frozen=True)
class ThemeLexicon:
    """Every theme's field (label, terms, vocabulary), keyed by lemmas and by forms."""

    theme_ids: tuple[str, ...]
    entries: tuple[Entry, ...]
    keys: Mapping[tuple[str, ...], tuple[int, ...]]
    """Lemma key and lower-cased form key of each entry -> the entries they stand for."""
    longest: int = 1

    @classmethod
    def build(cls, nlp: Any, themes: Sequence[Theme]) -> ThemeLexicon:
        """The lexicon of the themes (axes are left out: they go by their terms)."""
        pool = [t for t in themes if t.kind == "theme"]
        holders: dict[str, list[str]] = defaultdict(list)
        for theme in pool:
            for text in dict.fromkeys((theme.label, *theme.terms, *theme.vocabulary)):
                if theme.id not in holders[text.strip()]:
                    holders[text.strip()].append(theme.id)
        texts = [t for t in holders if t]
        base = math.log(len(pool) + 1) if pool else 1.0
        entries: list[Entry] = []
        keys: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for text, doc in zip(texts, nlp.pipe(texts), strict=True):
            words = tokens_of(doc)
            if not words:
                continue
            ids = tuple(holders[text])
            index = len(entries)
            entries.append(Entry(text, ids, (math.log((len(pool) + 1) / len(ids)) / base) ** 2, any(c.isupper() for c in text[:1])))
            for key in {tuple(w[2] for w in words), tuple(w[1] for w in words)}:
                keys[key].append(index)
        return cls(
            theme_ids=tuple(t.id for t in pool),
            entries=tuple(entries),
            keys={k: tuple(v) for k, v in keys.items()},
            longest=max((len(k) for k in keys), default=1),
        )

    def said(self, tokens: Sequence[Token]) -> Counter[int]:
        """How many times each entry is said in a run of words (a phrase and the words
        inside it both count: « empreinte carbone » says « empreinte » too)."""
        found: Counter[int] = Counter()
        lowers = [t[1] for t in tokens]
        lemmas = [t[2] for t in tokens]
        for i in range(len(tokens)):
            for n in range(1, min(self.longest, len(tokens) - i) + 1):
                hits = set(self.keys.get(tuple(lemmas[i : i + n]), ())) | set(self.keys.get(tuple(lowers[i : i + n]), ()))
                for index in hits:
                    if not self.entries[index].cased or tokens[i][0][:1].isupper():
                        found[index] += 1
        return found

    def features(self, said: Mapping[int, int], words: int) -> dict[str, tuple[float, float]]:
        """Per theme, its evidence E = Σ √count × weight over its entries said, as
        (E per ten words, log(1 + E))."""
        evidence: dict[str, float] = dict.fromkeys(self.theme_ids, 0.0)
        for index, count in said.items():
            entry = self.entries[index]
            for theme_id in entry.themes:
                evidence[theme_id] += math.sqrt(count) * entry.weight
        return {t: (10.0 * e / max(words, 1), math.log1p(e)) for t, e in evidence.items()}


@dataclass(frozen=True)
class FilingWeights:
    """The conditional-logit layer: a theme's score is ``density`` × its evidence per ten
    words + ``count`` × log(1 + evidence) + its bias; « no theme » scores its bias alone."""

    density: float
    count: float
    bias: Mapping[str, float] = field(default_factory=dict)
    """Per theme id, and for « none »; a theme it does not know has bias 0."""
    fitted_on: str = ""

    @classmethod
    def fitted(cls) -> FilingWeights:
        """The weights shipped with the package."""
        data = json.loads(resources.files(__package__).joinpath(WEIGHTS_FILE).read_text(encoding="utf-8"))
        return cls(
            float(data["density"]), float(data["count"]), {str(k): float(v) for k, v in data["bias"].items()}, str(data["fitted_on"])
        )

    def to_json(self) -> str:
        """The weights file's text."""
        body = {"density": self.density, "count": self.count, "bias": dict(self.bias), "fitted_on": self.fitted_on}
        return json.dumps(body, ensure_ascii=False, indent=2) + "\n"

    def probabilities(self, features: Mapping[str, tuple[float, float]], prior: Mapping[str, float] | None = None) -> dict[str, float]:
        """Each theme's probability and « none »'s, summing to 1; ``prior`` multiplies the
        odds of the themes it names."""
        prior = prior or {}
        scores = {
            t: self.density * d + self.count * c + self.bias.get(t, 0.0) + math.log(prior.get(t, 1.0)) for t, (d, c) in features.items()
        }
        scores[NO_THEME] = self.bias.get(NO_THEME, 0.0)
        top = max(scores.values())
        exp = {t: math.exp(s - top) for t, s in scores.items()}
        total = sum(exp.values())
        return {t: e / total for t, e in exp.items()}


def passages_of(sentences: Sequence[Sentence], words: Sequence[Sequence[Token]], size: int = PASSAGE_WORDS) -> list[tuple[int, int]]:
    """Runs of whole sentences (indexes into ``sentences``) of about ``size`` words; a last
    run shorter than half of it joins the one before."""
    runs: list[tuple[int, int]] = []
    start, count = 0, 0
    for i, tokens in enumerate(words):
        count += len(tokens)
        if count >= size:
            runs.append((start, i))
            start, count = i + 1, 0
    if start < len(sentences):
        if runs and count < size / 2:
            runs[-1] = (runs[-1][0], len(sentences) - 1)
        else:
            runs.append((start, len(sentences) - 1))
    return runs


def file_passages(
    sentences: Sequence[Sentence],
    words: Sequence[Sequence[Token]],
    lexicon: ThemeLexicon,
    weights: FilingWeights,
    confidence: float,
    prior: Mapping[str, float] | None = None,
) -> tuple[ThemePassage, ...]:
    """Every passage of a session with its themes' probabilities (``prior``: odds factors
    for the themes the catalogue gives the session); filed under the most probable theme
    when it reaches ``confidence``."""
    found = []
    for first, last in passages_of(sentences, words):
        tokens = [t for run in words[first : last + 1] for t in run]
        said = lexicon.said(tokens)
        probabilities = weights.probabilities(lexicon.features(said, sum(1 for t in tokens if t[0].isalpha())), prior)
        best = max(lexicon.theme_ids, key=lambda t: probabilities[t], default="")
        theme = best if best and probabilities[best] >= confidence else ""
        evidence = tuple(
            lexicon.entries[i].text for i, _ in sorted(said.items(), key=lambda x: -x[1]) if theme in lexicon.entries[i].themes
        )
        found.append(
            ThemePassage(
                first=sentences[first].index,
                last=sentences[last].index,
                start=sentences[first].start,
                end=sentences[last].end,
                probabilities={t: round(p, 4) for t, p in probabilities.items()},
                theme=theme,
                evidence=evidence[:8],
            )
        )
    return tuple(found)


def shares(passages: Iterable[ThemePassage], theme_ids: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Per theme, over the session's speech time: (expected share, its probability weighed by
    each passage's duration; share of time in passages filed under it)."""
    passages = list(passages)
    total = sum(max(p.end - p.start, 0.0) for p in passages) or 1.0
    result = {}
    for theme_id in theme_ids:
        expected = sum(max(p.end - p.start, 0.0) * p.probabilities.get(theme_id, 0.0) for p in passages)
        filed = sum(max(p.end - p.start, 0.0) for p in passages if p.theme == theme_id)
        result[theme_id] = (round(expected / total, 4), round(filed / total, 4))
    return result
