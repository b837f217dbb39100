"""Fitting and scoring the theme filing layer (used by ``bench_themes.py``).

The layer (:class:`pipeline.keywords.FilingWeights`) is a conditional logit: the options of
a passage are the themes and « none »; a theme's score is ``density`` × its evidence per ten
words + ``count`` × log(1 + evidence) + its bias, « none » scores its bias alone. Two weights
shared by every theme and one bias per option: few enough to fit on 93 passages. Fitted by
L-BFGS on the L2-penalised log-likelihood (scipy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.keywords import FilingWeights, ThemeModel, tokens_of
from pipeline.keywords.filing import NO_THEME

WEIGHT_PENALTY = 0.3
BIAS_PENALTY = 1.0

Features = list[dict[str, tuple[float, float]]]


def passage_features(nlp: Any, model: ThemeModel, texts: Sequence[str]) -> Features:
    """Each passage's features as one window, parsed sentence by sentence as the keywords
    stage parses a transcript."""
    from bench_themes import sentences

    assert model.lexicon is not None
    out = []
    for text in texts:
        tokens = [t for doc in nlp.pipe(sentences(text)) for t in tokens_of(doc)]
        out.append(model.lexicon.features(model.lexicon.said(tokens), sum(1 for t in tokens if t[0].isalpha())))
    return out


def _arrays(features: Features, labels: Sequence[str], ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    options = [*ids, NO_THEME]
    x = np.zeros((len(features), len(options), 2))
    for i, f in enumerate(features):
        for k, theme_id in enumerate(ids):
            x[i, k] = f[theme_id]
    y = np.array([options.index(label) for label in labels])
    return x, y


def fit_layer(features: Features, labels: Sequence[str], ids: Sequence[str]) -> FilingWeights:
    """The layer fitted on labelled passages."""
    from scipy.optimize import minimize

    x, y = _arrays(features, labels, ids)
    n, k, d = x.shape

    def loss(p: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = p[:d], p[d:]
        s = x @ w + b[None, :]
        s -= s.max(axis=1, keepdims=True)
        prob = np.exp(s)
        prob /= prob.sum(axis=1, keepdims=True)
        value = -np.log(prob[np.arange(n), y] + 1e-12).sum() + WEIGHT_PENALTY * w @ w + BIAS_PENALTY * b @ b
        grad = prob.copy()
        grad[np.arange(n), y] -= 1
        return float(value), np.concatenate([np.einsum("nk,nkd->d", grad, x) + 2 * WEIGHT_PENALTY * w, grad.sum(0) + 2 * BIAS_PENALTY * b])

    fitted = minimize(loss, np.zeros(d + k), jac=True, method="L-BFGS-B").x
    bias = {theme_id: round(float(fitted[d + i]), 4) for i, theme_id in enumerate([*ids, NO_THEME])}
    return FilingWeights(density=round(float(fitted[0]), 4), count=round(float(fitted[1]), 4), bias=bias)


def simulated_priors(labels: Sequence[str], ids: Sequence[str], factor: float, right: float, seed: int = 0) -> list[dict[str, float]]:
    """A catalogue prior per passage as a series would give it: its session's catalogue
    names the passage's theme with probability ``right``, another theme otherwise; an
    off-topic passage's session names a random theme."""
    rng = np.random.default_rng(seed)
    priors = []
    for label in labels:
        if label in ids and rng.random() < right:
            named = label
        else:
            named = str(rng.choice([t for t in ids if t != label]))
        priors.append({named: factor})
    return priors


def _folds(labels: Sequence[str], repeats: int) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    from sklearn.model_selection import StratifiedKFold

    return [list(StratifiedKFold(5, shuffle=True, random_state=r).split(np.zeros(len(labels)), labels)) for r in range(repeats)]


def cross_validate(
    features: Features,
    labels: Sequence[str],
    ids: Sequence[str],
    repeats: int,
    fit: Callable[[Features, list[str]], FilingWeights],
    priors: Sequence[dict[str, float]] | None = None,
) -> np.ndarray:
    """Probabilities (repeats × passages × themes then « none »), each from a layer fitted
    without the passage (``priors``: each passage's catalogue prior)."""
    out = np.zeros((repeats, len(labels), len(ids) + 1))
    for r, folds in enumerate(_folds(labels, repeats)):
        for train, test in folds:
            weights = fit([features[i] for i in train], [labels[i] for i in train])
            for i in test:
                p = weights.probabilities(features[i], priors[i] if priors else None)
                out[r, i] = [p[t] for t in [*ids, NO_THEME]]
    return out


def baseline_probabilities(texts: Sequence[str], labels: Sequence[str], ids: Sequence[str], repeats: int, c: float) -> np.ndarray:
    """TF-IDF + logistic regression (scikit-learn), on the same folds."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    options = [*ids, NO_THEME]
    out = np.zeros((repeats, len(labels), len(options)))
    for r, folds in enumerate(_folds(labels, repeats)):
        for train, test in folds:
            vectorizer = TfidfVectorizer()
            model = LogisticRegression(C=c, max_iter=2000)
            model.fit(vectorizer.fit_transform([texts[i] for i in train]), [labels[i] for i in train])
            prob = model.predict_proba(vectorizer.transform([texts[i] for i in test]))
            for j, theme_id in enumerate(options):
                out[r, test, j] = prob[:, list(model.classes_).index(theme_id)]
    return out


@dataclass(frozen=True)
class Report:
    """Top-1, top-2 and what is shown, from probabilities (or rankings) per repeat."""

    name: str
    top: np.ndarray
    """repeats × passages × themes: the themes ranked, as indexes into ``ids``."""
    confidence: np.ndarray
    """repeats × passages: the top theme's probability (what is compared with the threshold)."""
    truth: np.ndarray
    """passages: the label's index (len(ids) for « none »)."""
    shown: np.ndarray | None = None
    """repeats × passages: whether the top theme is shown (for rankings without probabilities)."""
    threshold: float = 0.5

    @classmethod
    def of(cls, name: str, probabilities: np.ndarray, labels: Sequence[str], ids: Sequence[str]) -> Report:
        options = [*ids, NO_THEME]
        themes = probabilities[:, :, : len(ids)]
        return cls(name, np.argsort(-themes, axis=2), themes.max(axis=2), np.array([options.index(x) for x in labels]))

    @classmethod
    def of_rankings(cls, name: str, rankings: Sequence[Sequence[Sequence[object]]], labels: Sequence[str], ids: Sequence[str]) -> Report:
        """From the harness's output: per passage [theme id, coverage, shown] ranked."""
        options = [*ids, NO_THEME]
        top = np.array([[[ids.index(str(t[0])) for t in ranking] for ranking in rankings]])
        confidence = np.array([[float(ranking[0][1]) if ranking else 0.0 for ranking in rankings]])
        shown = np.array([[bool(ranking and ranking[0][2] and float(ranking[0][1]) > 0) for ranking in rankings]])
        return cls(name, top, confidence, np.array([options.index(x) for x in labels]), shown)

    def _shown(self, threshold: float | None = None) -> np.ndarray:
        if self.shown is not None and threshold is None:
            return self.shown
        return self.confidence >= (self.threshold if threshold is None else threshold)

    def counts(self, threshold: float | None = None) -> dict[str, float]:
        on = self.truth < self.top.shape[2]
        first = self.top[:, :, 0]
        shown = self._shown(threshold)
        right = first == self.truth[None, :]
        top2 = (self.top[:, :, :2] == self.truth[None, :, None]).any(axis=2)
        return {
            "top1": float(right[:, on].mean()),
            "top2": float(top2[:, on].mean()),
            "off_tagged": float(shown[:, ~on].sum(axis=1).mean()),
            "off": int((~on).sum()),
            "on_right": float((shown & right)[:, on].sum(axis=1).mean()),
            "on_wrong": float((shown & ~right)[:, on].sum(axis=1).mean()),
            "on_none": float((~shown)[:, on].sum(axis=1).mean()),
            "on": int(on.sum()),
            "top1_sd": float(right[:, on].mean(axis=1).std()),
        }

    def ece(self) -> float:
        """Expected calibration error of the top theme's probability (10 bins), over every
        passage of every repeat; an off-topic passage's top theme is never right."""
        confidence = self.confidence.ravel()
        right = (self.top[:, :, 0] == self.truth[None, :]).ravel()
        total = 0.0
        for low in np.arange(0, 1, 0.1):
            inside = (confidence >= low) & ((confidence < low + 0.1) | (low >= 0.9))
            if inside.any():
                total += inside.mean() * abs(confidence[inside].mean() - right[inside].mean())
        return total

    @staticmethod
    def header() -> str:
        return (
            f"{'':44s} {'top-1':>12s} {'top-2':>6s} | {'off-topic given a theme':>23s} | "
            f"{'on-topic shown: right / wrong / none':>36s} | {'ECE':>5s}"
        )

    def line(self) -> str:
        c = self.counts()
        ece = f"{self.ece():.3f}" if self.shown is None else "  —  "
        return (
            f"{self.name:44s} {c['top1']:6.1%} ±{c['top1_sd']:4.1%} {c['top2']:6.1%} | {c['off_tagged']:14.1f} of {c['off']:<5d} | "
            f"{c['on_right']:14.1f} / {c['on_wrong']:4.1f} / {c['on_none']:4.1f} of {c['on']:<3d} | {ece}"
        )

    def reliability(self) -> str:
        confidence = self.confidence.ravel()
        right = (self.top[:, :, 0] == self.truth[None, :]).ravel()
        lines = [f"reliability of {self.name}: top probability bin -> passages, mean probability, share right"]
        for low in np.arange(0, 1, 0.1):
            inside = (confidence >= low) & ((confidence < low + 0.1) | (low >= 0.9))
            if inside.any():
                lines.append(f"  {low:.1f}-{low + 0.1:.1f}: {inside.sum():4d}  {confidence[inside].mean():.2f}  {right[inside].mean():.2f}")
        return "\n".join(lines)

    def sweep(self) -> str:
        lines = [f"threshold sweep ({self.name}): threshold -> off-topic given a theme; on-topic right / wrong / none"]
        for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
            c = self.counts(threshold)
            shown = f"{c['on_right']:5.1f} / {c['on_wrong']:4.1f} / {c['on_none']:4.1f} of {c['on']}"
            lines.append(f"  {threshold:.1f}: {c['off_tagged']:5.1f} of {c['off']}; {shown}")
        return "\n".join(lines)
