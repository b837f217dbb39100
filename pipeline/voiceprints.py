"""The series' voiceprints: the mean voice of each named speaker, session by session.

Kept in ``outputs/voiceprints.json`` with their provenance (session, speaking time, whether an
editor confirmed the name, the encoder). A voice of a new session that is close enough to a
catalogue speaker's voiceprint takes that name: a recurring moderator is recognised.
Unnamed voices (« Intervenant N ») are never kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .speakers import UNNAMED, Diarization

SCHEMA_VERSION = 2
"""2: the encoders are named by ``encoder`` (their weights' SHA-256); 1 held GE2E prints only."""


def known(data: Mapping[str, Any], encoder: str, exclude: str = "") -> dict[str, np.ndarray]:
    """Each name's voiceprint (speaking-time weighted mean of its sessions, L2-normed),
    leaving out one session (the one being named) and prints of another ``encoder``
    (:func:`pipeline.voices.encoder_id`)."""
    if data.get("schema_version") != SCHEMA_VERSION or data.get("encoder") != encoder:
        return {}
    prints: dict[str, np.ndarray] = {}
    for name, sessions in (data.get("voices") or {}).items():
        vectors = [
            (np.array(entry["embedding"], dtype=np.float32), float(entry.get("seconds", 1.0)))
            for session_id, entry in (sessions or {}).items()
            if session_id != exclude and isinstance(entry, dict) and entry.get("embedding")
        ]
        if vectors:
            mean = np.sum([v * w for v, w in vectors], axis=0) / sum(w for _, w in vectors)
            prints[name] = np.asarray(mean / max(float(np.linalg.norm(mean)), 1e-12), dtype=np.float32)
    return prints


def update(
    data: Mapping[str, Any], encoder: str, session_id: str, diarization: Diarization, names: Mapping[str, str], confirmed: bool
) -> dict[str, Any]:
    """The voiceprints with this session's named voices (replacing what it gave before). Prints
    of another encoder are dropped: their vectors cannot be compared with this one's."""
    voices: dict[str, dict[str, Any]] = {}
    if data.get("schema_version") == SCHEMA_VERSION and data.get("encoder") == encoder:
        voices = {
            name: {s: e for s, e in (sessions or {}).items() if s != session_id} for name, sessions in (data.get("voices") or {}).items()
        }
    unnamed = UNNAMED.split("{", 1)[0]
    for voice in diarization.voices:
        name = names.get(voice.label, "")
        if not name or name.startswith(unnamed) or name == voice.label or not voice.embedding:
            continue
        voices.setdefault(name, {})[session_id] = {"embedding": list(voice.embedding), "seconds": voice.seconds, "confirmed": confirmed}
    return {"schema_version": SCHEMA_VERSION, "encoder": encoder, "voices": {n: s for n, s in sorted(voices.items()) if s}}
