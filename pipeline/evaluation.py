"""Word error rate for tests and benchmarks (needs the ``test`` extra: jiwer)."""

from __future__ import annotations

import re
import unicodedata


def normalize(text: str) -> str:
    """Lower case, no accents, no punctuation, single spaces (apostrophes split words)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", " ", stripped).strip()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER in [0, ∞) after :func:`normalize` on both sides."""
    import jiwer

    return float(jiwer.wer(normalize(reference), normalize(hypothesis)))
