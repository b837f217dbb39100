"""Keyword curation by editors (``recordings/keywords.toml``): keywords to pin (always shown,
first) and to ban (never shown), for the whole series and per session.

    [series]
    ban = ["chose", "question"]

    [sessions.2022-03-17-sobriete]
    pin = ["sobriété numérique"]
    ban = ["centre"]

A term matches a keyword by its lemmas (« centres de données » bans « centre de donnée ») or
by its spelling, without case or accents. A pinned term the session never says is not
invented: keywords.json records it as not said.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalogue import line_matching, read_toml
from .errors import EditorFileError

CURATION_FILE = "keywords.toml"


@dataclass(frozen=True)
class Curation:
    """Terms to pin and to ban."""

    pin: tuple[str, ...] = ()
    ban: tuple[str, ...] = ()

    def __or__(self, other: Curation) -> Curation:
        return Curation(tuple(dict.fromkeys([*self.pin, *other.pin])), tuple(dict.fromkeys([*self.ban, *other.ban])))

    def __bool__(self) -> bool:
        return bool(self.pin or self.ban)


@dataclass(frozen=True)
class KeywordCuration:
    """The series' curation and each session's."""

    series: Curation = Curation()
    sessions: Mapping[str, Curation] = field(default_factory=dict)

    def of(self, session_id: str) -> Curation:
        """What applies to one session: the series' terms, then its own."""
        return self.series | self.sessions.get(session_id, Curation())


def _line(text: str, needle: str) -> int:
    return line_matching(text, re.escape(needle))


def _terms(path: Path, text: str, table: str, raw: Any) -> Curation:
    if not isinstance(raw, dict):
        raise EditorFileError(
            path,
            f"line {_line(text, table)}: [{table}] must be a table",
            f"write [{table}], then pin = [...] and ban = [...]",
        )
    unknown = sorted(set(raw) - {"pin", "ban"})
    if unknown:
        raise EditorFileError(
            path,
            f"line {_line(text, unknown[0])}: [{table}] has no list '{unknown[0]}'",
            "use pin = [...] or ban = [...]",
        )
    lists = {}
    for key in ("pin", "ban"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise EditorFileError(
                path,
                f"line {_line(text, key)}: [{table}] {key} must be a list of texts",
                f'write {key} = ["terme", "autre terme"]',
            )
        lists[key] = tuple(v.strip() for v in value)
    return Curation(lists["pin"], lists["ban"])


def read_curation(path: Path) -> KeywordCuration:
    """The editors' curation (none when the file is absent); one-line errors with the line."""
    if not path.exists():
        return KeywordCuration()
    text, data = read_toml(path)
    unknown = sorted(set(data) - {"series", "sessions"})
    if unknown:
        raise EditorFileError(
            path,
            f"line {_line(text, unknown[0])}: '{unknown[0]}' is not a table of this file",
            "use [series] or [sessions.ID]",
        )
    series = _terms(path, text, "series", data.get("series", {}))
    sessions_raw = data.get("sessions", {})
    if not isinstance(sessions_raw, dict):
        raise EditorFileError(path, f"line {_line(text, 'sessions')}: 'sessions' must hold tables", "write [sessions.SESSION-ID]")
    sessions = {str(k): _terms(path, text, f"sessions.{k}", v) for k, v in sessions_raw.items()}
    return KeywordCuration(series, sessions)
