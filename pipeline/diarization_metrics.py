"""Scoring speaker attribution against reference turns (for tests and benchmarks).

Diarization error rate as NIST md-eval computes it, on 10-ms frames: missed speech, false
alarm and speaker confusion over the reference speech time, with a forgiveness collar around
every reference boundary and overlapping speech scored (a frame where two people speak
counts twice). Hypothesis speakers are mapped to reference speakers one to one so as to
maximise the time they share (the Hungarian assignment, by SciPy: a test and bench dependency).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FRAME = 0.01


@dataclass(frozen=True)
class Score:
    """DER and its parts (shares of the scored reference speech)."""

    der: float
    missed: float
    false_alarm: float
    confusion: float
    reference_speakers: int
    hypothesis_speakers: int
    mapping: Mapping[str, str]


def read_rttm(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, speaker) of each SPEAKER line of an RTTM file."""
    turns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts and parts[0] == "SPEAKER":
            start, duration = float(parts[3]), float(parts[4])
            turns.append((start, start + duration, parts[7]))
    return turns


def _matrix(turns: Sequence[tuple[float, float, str]], speakers: Sequence[str], frames: int) -> np.ndarray:
    matrix = np.zeros((len(speakers), frames), dtype=bool)
    index = {s: i for i, s in enumerate(speakers)}
    for start, end, speaker in turns:
        matrix[index[speaker], int(round(start / FRAME)) : int(round(end / FRAME))] = True
    return matrix


def best_mapping(reference: np.ndarray, hypothesis: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (reference row, hypothesis row) sharing the most frames, one to one (the
    Hungarian assignment, as md-eval does)."""
    from scipy.optimize import linear_sum_assignment

    overlap = reference.astype(np.float32) @ hypothesis.astype(np.float32).T
    rows, cols = linear_sum_assignment(-overlap)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]


def score(reference: Sequence[tuple[float, float, str]], hypothesis: Sequence[tuple[float, float, str]], collar: float = 0.25) -> Score:
    """DER of ``hypothesis`` turns against ``reference`` turns."""
    end = max([e for _, e, _ in reference] + [e for _, e, _ in hypothesis] + [0.0])
    frames = int(round(end / FRAME)) + 1
    ref_speakers = sorted({s for _, _, s in reference})
    hyp_speakers = sorted({s for _, _, s in hypothesis})
    ref = _matrix(reference, ref_speakers, frames)
    hyp = _matrix(hypothesis, hyp_speakers, frames) if hyp_speakers else np.zeros((0, frames), dtype=bool)
    scored = np.ones(frames, dtype=bool)
    for start, stop, _ in reference:
        for edge in (start, stop):
            scored[max(0, int(round((edge - collar) / FRAME))) : int(round((edge + collar) / FRAME))] = False
    ref, hyp = ref[:, scored], hyp[:, scored]
    n_ref, n_hyp = ref.sum(axis=0), hyp.sum(axis=0)
    total = n_ref.sum()
    pairs = best_mapping(ref, hyp) if len(hyp) else []
    correct = sum((ref[i] & hyp[j]).sum() for i, j in pairs)
    missed = np.maximum(n_ref - n_hyp, 0).sum()
    false_alarm = np.maximum(n_hyp - n_ref, 0).sum()
    confusion = np.minimum(n_ref, n_hyp).sum() - correct
    mapping = {hyp_speakers[j]: ref_speakers[i] for i, j in pairs}
    share = (lambda x: float(x) / total) if total else (lambda x: 0.0)
    return Score(
        share(missed + false_alarm + confusion),
        share(missed),
        share(false_alarm),
        share(confusion),
        len(ref_speakers),
        len(hyp_speakers),
        mapping,
    )


def word_errors(
    words: Sequence[tuple[float, float, str]], reference: Sequence[tuple[float, float, str]], mapping: Mapping[str, str]
) -> tuple[int, int]:
    """Words attributed to the wrong speaker, and words scored: a word is scored when its
    middle falls inside exactly one reference turn."""
    wrong = scored = 0
    for start, end, speaker in words:
        middle = (start + end) / 2
        owners = {s for a, b, s in reference if a <= middle <= b}
        if len(owners) != 1:
            continue
        scored += 1
        wrong += mapping.get(speaker) != owners.pop()
    return wrong, scored
