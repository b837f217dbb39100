"""Doubtful words: how likely each written word of a transcript is wrong.

Whisper's word probability alone is a weak detector (with Whisper base, 5 % of the words it is
95 % sure of are still wrong). The doubt model reads it in context: the probabilities of the
words around, the segment's average log-probability and no-speech probability, the word's
length, duration and shape (README, « Review report »). It is a small boosted tree ensemble,
fitted on the dev files with references by ``benchmarks/review_layer.py`` and shipped as JSON
(:data:`MODEL_FILE`); evaluating it needs numpy only, no model and no scikit-learn.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from .transcript import Segment, Transcript, Word, glued

MODEL_FILE = "doubt_model.json"
FEATURES = (
    "probability",
    "mean_piece_probability",
    "previous_probability",
    "next_probability",
    "second_previous_probability",
    "second_next_probability",
    "segment_avg_logprob",
    "segment_no_speech_prob",
    "pieces",
    "characters",
    "seconds",
    "seconds_per_character",
    "capitalised",
    "has_digit",
    "has_apostrophe",
    "doubtful_neighbours",
    "context_log_probability",
)


@dataclass(frozen=True)
class WrittenWord:
    """A word as written (Whisper's pieces glued), with its times, its pieces' lowest and mean
    probability, and how many pieces it had."""

    text: str
    start: float
    end: float
    probability: float
    mean_probability: float = 1.0
    pieces: int = 1


def written(words: Sequence[Word]) -> list[WrittenWord]:
    """Whisper's word pieces glued into written words (empty ones dropped)."""
    found = []
    for group in glued(words):
        text = "".join(w.word for w in group).strip()
        if text:
            probabilities = [w.probability for w in group]
            mean = sum(probabilities) / len(probabilities)
            found.append(WrittenWord(text, group[0].start, group[-1].end, min(probabilities), mean, len(group)))
    return found


def features_of(segments: Sequence[Segment], by_segment: Sequence[Sequence[WrittenWord]]) -> np.ndarray:
    """The features of every written word (``by_segment``: each segment's, from :func:`written`),
    one row each in order, columns :data:`FEATURES`."""
    rows: list[list[float]] = []
    for segment, words in zip(segments, by_segment, strict=True):
        for word in words:
            seconds = max(word.end - word.start, 0.0)
            rows.append(
                [
                    word.probability,
                    word.mean_probability,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    segment.avg_logprob,
                    segment.no_speech_prob,
                    word.pieces,
                    len(word.text),
                    seconds,
                    seconds / len(word.text),
                    float(word.text[:1].isupper()),
                    float(any(c.isdigit() for c in word.text)),
                    float("'" in word.text or "’" in word.text),
                    0.0,
                    0.0,
                ]
            )
    features = np.array(rows, dtype=float).reshape(len(rows), len(FEATURES))
    if len(rows):
        p = features[:, 0]
        padded = np.concatenate([np.ones(2), p, np.ones(2)])
        for column, shift in ((2, -1), (3, 1), (4, -2), (5, 2)):
            features[:, column] = padded[2 + shift : 2 + shift + len(p)]
        low = (p < 0.5).astype(float)
        log_p = np.log(np.clip(p, 1e-3, 1.0))
        k = np.arange(len(p))
        low_sums, log_sums = np.concatenate([[0.0], np.cumsum(low)]), np.concatenate([[0.0], np.cumsum(log_p)])
        near_first, near_last = np.maximum(k - 3, 0), np.minimum(k + 4, len(p))  # three words each side
        features[:, 15] = low_sums[near_last] - low_sums[near_first] - low
        first, last = np.maximum(k - 5, 0), np.minimum(k + 6, len(p))  # five words each side, itself included
        features[:, 16] = (log_sums[last] - log_sums[first]) / (last - first)
    return features


def written_words(transcript: Transcript) -> tuple[tuple[WrittenWord, ...], np.ndarray]:
    """The transcript's written words in order, and their features."""
    by_segment = [written(segment.words) for segment in transcript.segments]
    return tuple(w for words in by_segment for w in words), features_of(transcript.segments, by_segment)


@dataclass(frozen=True)
class Tree:
    """One regression tree: per node the feature (-1 at a leaf), threshold, children and value."""

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]


@dataclass(frozen=True)
class DoubtModel:
    """Boosted trees over :data:`FEATURES` giving the probability that a word is wrong, and the
    bound above which a word is flagged."""

    trees: tuple[Tree, ...]
    learning_rate: float
    prior_log_odds: float
    bound: float
    features: tuple[str, ...] = FEATURES
    fitted_on: str = ""

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """The probability that each row's word is wrong."""
        score = np.full(len(features), self.prior_log_odds)
        rows = np.arange(len(features))
        for tree in self.trees:
            feature, threshold = np.array(tree.feature), np.array(tree.threshold)
            left, right, value = np.array(tree.left), np.array(tree.right), np.array(tree.value)
            node = np.zeros(len(features), dtype=int)
            while True:
                inner = feature[node] >= 0
                if not inner.any():
                    break
                goes_left = features[rows, np.maximum(feature[node], 0)] <= threshold[node]
                node = np.where(inner, np.where(goes_left, left[node], right[node]), node)
            score += self.learning_rate * value[node]
        probabilities: np.ndarray = 1.0 / (1.0 + np.exp(-score))
        return probabilities

    def to_json(self) -> str:
        """The model file's text."""
        body = {
            "features": list(self.features),
            "fitted_on": self.fitted_on,
            "learning_rate": self.learning_rate,
            "prior_log_odds": self.prior_log_odds,
            "bound": self.bound,
            "trees": [
                {
                    "feature": list(t.feature),
                    "threshold": [round(x, 6) for x in t.threshold],
                    "left": list(t.left),
                    "right": list(t.right),
                    "value": [round(x, 6) for x in t.value],
                }
                for t in self.trees
            ],
        }
        return json.dumps(body, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DoubtModel:
        data = json.loads(text)
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{MODEL_FILE} was fitted on other features; refit it with benchmarks/review_layer.py --write")
        trees = tuple(
            Tree(
                tuple(t["feature"]),
                tuple(float(x) for x in t["threshold"]),
                tuple(t["left"]),
                tuple(t["right"]),
                tuple(float(x) for x in t["value"]),
            )
            for t in data["trees"]
        )
        bound = float(data["bound"])
        if not 0.0 < bound < 1.0 or not math.isfinite(float(data["prior_log_odds"])):
            raise ValueError(f"{MODEL_FILE}: a bound between 0 and 1 and a finite prior are expected")
        return cls(trees, float(data["learning_rate"]), float(data["prior_log_odds"]), bound, FEATURES, data.get("fitted_on", ""))


@cache
def shipped() -> DoubtModel:
    """The doubt model shipped with the package."""
    return DoubtModel.from_json(resources.files(__package__).joinpath(MODEL_FILE).read_text(encoding="utf-8"))
