"""The editors' catalogues: ``sessions.toml`` (one entry per session) and ``themes.toml``.

Both are plain TOML that editors change without code. Errors name the file, the line and
the field, because an editor fixing a typo should not have to read a traceback.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CatalogueError, shown
from .text import xml_safe

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


@dataclass(frozen=True)
class Speaker:
    """Someone who speaks in a session."""

    name: str
    role: str = ""


@dataclass(frozen=True)
class Session:
    """One webinar session as the editors describe it."""

    id: str
    title: str
    recording: str
    number: int | None = None
    date: str | None = None
    themes: tuple[str, ...] = ()
    speakers: tuple[Speaker, ...] = ()
    replay_url: str | None = None


@dataclass(frozen=True)
class Theme:
    """A theme of the programme (or a transversal axis), with its sub-topics and seed terms."""

    id: str
    label: str
    description: str
    terms: tuple[str, ...] = ()
    kind: str = "theme"
    """``theme`` for the six themes, ``axis`` for the transversal axes."""
    vocabulary: tuple[str, ...] = ()
    """Words and phrases of the theme's field, broader than its terms: what files a passage
    under the theme (see :mod:`pipeline.keywords.filing`); terms and label count too."""


@dataclass(frozen=True)
class Organiser:
    """Who runs the series: a name, what they are, where to read more."""

    name: str
    role: str = ""
    url: str = ""


@dataclass(frozen=True)
class PlannedSession:
    """A session of the programme as announced, recorded yet or not."""

    title: str
    number: int | None = None
    date: str = ""
    """An ISO date, or words (« septembre 2022 ») while the day is not set."""
    description: str = ""


@dataclass(frozen=True)
class SeriesInfo:
    """What the « À propos » page says of the series (``[series]`` in ``sessions.toml``)."""

    description: str = ""
    organisers: tuple[Organiser, ...] = ()
    programme: tuple[PlannedSession, ...] = ()
    rights: str = ""
    """How the recordings, transcripts and syntheses may be reused (empty: the archive's rights)."""
    contact: str = ""


@dataclass(frozen=True)
class Catalogue:
    """Sessions by recording file name, the themes of the programme, and the series itself."""

    sessions: tuple[Session, ...] = ()
    themes: tuple[Theme, ...] = ()
    series: SeriesInfo = SeriesInfo()

    def session_by_id(self, session_id: str) -> Session:
        """The catalogue entry with this id, or a minimal one (later stages know only ids)."""
        return next((s for s in self.sessions if s.id == session_id), None) or Session(id=session_id, title=session_id, recording="")

    def session_for(self, recording: Path) -> Session:
        """The catalogue entry of a recording, or a minimal one derived from its file name."""
        for session in self.sessions:
            if session.recording == recording.name:
                return session
        title = shown(recording.stem)  # a name that is not UTF-8 keeps its readable part
        return Session(id=slugify(title), title=title, recording=recording.name)


def slugify(text: str) -> str:
    """A safe session id from any text: ASCII, lower case, dashes, at most 80 characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80].strip("-")
    return slug or "session"


def line_matching(text: str, pattern: str) -> int:
    """1-based line of ``text`` where the regular expression ``pattern`` first matches (0: none)."""
    regex = re.compile(pattern)
    return next((n for n, row in enumerate(text.splitlines(), start=1) if regex.search(row)), 0)


class TomlLocator:
    """Finds the line of a table or a field in TOML text (tomllib keeps no positions)."""

    def __init__(self, text: str, array_name: str) -> None:
        self.lines = text.splitlines()
        header = re.compile(rf"^\s*\[\[\s*{re.escape(array_name)}\s*\]\]")
        self.starts = [i for i, line in enumerate(self.lines) if header.match(line)]

    def line_of(self, index: int, key: str | None = None) -> int:
        """1-based line of entry ``index`` or of ``key`` inside it (entry line if not found)."""
        if index >= len(self.starts):
            return 0
        start = self.starts[index]
        if key is None:
            return start + 1
        end = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.lines)
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for i in range(start, end):
            if pattern.match(self.lines[i]):
                return i + 1
        return start + 1


def parse_toml_text(text: str, source: Path | str | None = None) -> dict[str, Any]:
    """TOML text as data; a syntax error is one line naming the file and the line."""
    try:
        data: dict[str, Any] = tomllib.loads(text.lstrip("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(source, f"invalid TOML: {exc}", "fix the syntax at that line") from exc
    return data


MAX_TOML_BYTES = 1_000_000
"""The most an editor's TOML file may weigh: a thousand sessions or glossary terms fit in a
tenth of it."""


def read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    """The text and the data of an editor's TOML file; one-line errors (a BOM is accepted)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CatalogueError(path, f"cannot be read ({exc.strerror})", "check the path and permissions") from exc
    if size > MAX_TOML_BYTES:
        raise CatalogueError(
            path,
            f"is {size / 1e6:.1f} MB, more than such a file holds ({MAX_TOML_BYTES / 1e6:.0f} MB at most): it is not read",
            "keep only its entries there, and move any other material out of the recordings folder",
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogueError(path, "is not UTF-8 text", "save it as UTF-8") from exc
    except OSError as exc:
        raise CatalogueError(path, f"cannot be read ({exc.strerror})", "check the path and permissions") from exc
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(path, f"invalid TOML: {exc}", "fix the syntax at that line") from exc


SESSIONS_FILE = "sessions.toml"
THEMES_FILE = "themes.toml"

SESSION_FIELDS = {"id", "number", "title", "date", "themes", "speakers", "replay_url", "recording"}


def _field_error(path: Path, locator: TomlLocator, index: int, key: str, reason: str, fix: str, kind: str = "session") -> CatalogueError:
    line = locator.line_of(index, key)
    return CatalogueError(path, f"line {line}: {kind} #{index + 1}, field '{key}': {reason}", fix)


def _check_fields(
    raw: Mapping[str, Any], allowed: set[str], required: tuple[str, ...], fail: Callable[[str, str, str], CatalogueError]
) -> None:
    """Refuse unknown fields (typos) and missing or empty required strings."""
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise fail(unknown[0], "unknown field", f"use one of: {', '.join(sorted(allowed))}")
    for key in required:
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise fail(key, "missing or not a non-empty string", f'add {key} = "..."')


def _parse_session(path: Path, locator: TomlLocator, index: int, raw: Mapping[str, Any]) -> Session:
    def fail(key: str, reason: str, fix: str) -> CatalogueError:
        return _field_error(path, locator, index, key, reason, fix)

    _check_fields(raw, SESSION_FIELDS, ("title", "recording"), fail)
    recording = raw["recording"]
    if Path(recording).name != recording:
        raise fail("recording", "must be a file name inside recordings/, not a path", "keep only the file name")
    session_id = raw.get("id", slugify(Path(recording).stem))
    if not isinstance(session_id, str) or not SAFE_ID.match(session_id):
        raise fail("id", f"{session_id!r} is not a safe id", "use lower-case letters, digits and dashes, e.g. 2022-03-17-sobriete")
    number = raw.get("number")
    if number is not None and (not isinstance(number, int) or isinstance(number, bool) or number < 0):
        raise fail("number", f"{number!r} is not a whole number", "write number = 2")
    date = raw.get("date")
    if isinstance(date, dt.date):
        date = date.isoformat()
    elif date is not None:
        try:
            date = dt.date.fromisoformat(str(date)).isoformat()
        except ValueError:
            raise fail("date", f"{date!r} is not a date", "write date = 2022-03-17") from None
    themes = raw.get("themes", [])
    if not isinstance(themes, list) or not all(isinstance(t, str) for t in themes):
        raise fail("themes", "must be a list of theme ids", 'write themes = ["sobriete"]')
    speakers_raw = raw.get("speakers", [])
    if not isinstance(speakers_raw, list):
        raise fail("speakers", "must be a list of {name, role} tables", 'write speakers = [{name = "...", role = "..."}]')
    speakers = []
    for speaker in speakers_raw:
        if not isinstance(speaker, dict) or not isinstance(speaker.get("name"), str) or not speaker["name"].strip():
            raise fail("speakers", f"{speaker!r} has no name", 'give each speaker name = "..."')
        if set(speaker) - {"name", "role"} or not isinstance(speaker.get("role", ""), str):
            raise fail("speakers", f"{speaker!r} has fields other than name and role", "keep name and role only")
        speakers.append(Speaker(name=xml_safe(speaker["name"]).strip(), role=xml_safe(speaker.get("role", "")).strip()))
    replay_url = raw.get("replay_url")
    if replay_url is not None and (not isinstance(replay_url, str) or not re.match(r"^https?://", replay_url)):
        raise fail("replay_url", f"{replay_url!r} is not an http(s) URL", 'write replay_url = "https://..."')
    return Session(
        id=session_id,
        title=xml_safe(raw["title"]).strip(),  # a control character pasted in would break every XML output
        recording=recording,
        number=number,
        date=date,
        themes=tuple(themes),
        speakers=tuple(speakers),
        replay_url=replay_url,
    )


def load_sessions(path: Path) -> tuple[Session, ...]:
    """Parse ``sessions.toml`` (an array of ``[[session]]`` tables); absent file: no entries."""
    if not path.exists():
        return ()
    text, data = read_toml(path)
    locator = TomlLocator(text, "session")
    extra = sorted(set(data) - {"session", "series"})
    if extra:
        raise CatalogueError(
            path, f"unexpected top-level key '{extra[0]}'", "put every session under [[session]], the series under [series]"
        )
    entries = data.get("session", [])
    if not isinstance(entries, list):
        raise CatalogueError(path, "'session' must be an array of tables", "write each entry under [[session]]")
    sessions = tuple(_parse_session(path, locator, i, raw) for i, raw in enumerate(entries))
    seen: dict[str, int] = {}
    for i, session in enumerate(sessions):
        for key, value in (("id", session.id), ("recording", session.recording)):
            marker = f"{key}:{value}"
            if marker in seen:
                raise _field_error(
                    path, locator, i, key, f"{value!r} is already used by session #{seen[marker] + 1}", f"give each session its own {key}"
                )
            seen[marker] = i
    return sessions


THEME_FIELDS = {"id", "label", "description", "terms", "vocabulary"}
RESERVED_THEME_IDS = frozenset({"index"})  # themes/index.html lists the themes


def _parse_theme(path: Path, locator: TomlLocator, index: int, raw: Mapping[str, Any], kind: str) -> Theme:
    def fail(key: str, reason: str, fix: str) -> CatalogueError:
        return _field_error(path, locator, index, key, reason, fix, kind=kind)

    _check_fields(raw, THEME_FIELDS, ("id", "label"), fail)
    if not SAFE_ID.match(raw["id"]):
        raise fail("id", f"{raw['id']!r} is not a safe id", "use lower-case letters, digits and dashes")
    if raw["id"] in RESERVED_THEME_IDS:
        raise fail("id", f"'{raw['id']}' is reserved for the site's own pages", "choose another id, e.g. theme-index")
    terms = raw.get("terms", [])
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise fail("terms", "must be a list of strings", 'write terms = ["sobriété numérique", ...]')
    vocabulary = raw.get("vocabulary", [])
    if not isinstance(vocabulary, list) or not all(isinstance(t, str) for t in vocabulary):
        raise fail("vocabulary", "must be a list of strings", 'write vocabulary = ["énergie", "centre de données", ...]')
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise fail("description", "must be a string", 'write description = "..."')
    return Theme(
        id=raw["id"],
        label=xml_safe(raw["label"]).strip(),
        description=xml_safe(description).strip(),
        terms=tuple(terms),
        kind=kind,
        vocabulary=tuple(xml_safe(v).strip() for v in vocabulary if xml_safe(v).strip()),
    )


def load_themes(path: Path) -> tuple[Theme, ...]:
    """Parse ``themes.toml``: ``[[theme]]`` then ``[[axis]]`` tables; absent file: none."""
    if not path.exists():
        return ()
    text, data = read_toml(path)
    extra = sorted(set(data) - {"theme", "axis"})
    if extra:
        raise CatalogueError(path, f"unexpected top-level key '{extra[0]}'", "put entries under [[theme]] or [[axis]]")
    themes: list[Theme] = []
    for kind in ("theme", "axis"):
        entries = data.get(kind, [])
        if not isinstance(entries, list):
            raise CatalogueError(path, f"'{kind}' must be an array of tables", f"write each entry under [[{kind}]]")
        locator = TomlLocator(text, kind)
        themes.extend(_parse_theme(path, locator, i, raw, kind) for i, raw in enumerate(entries))
    ids = [t.id for t in themes]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate:
        raise CatalogueError(path, f"id '{duplicate}' is used twice", "give each theme and axis its own id")
    return tuple(themes)


SERIES_FIELDS = {"description", "organisers", "programme", "rights", "contact"}


def load_series(path: Path) -> SeriesInfo:
    """The ``[series]`` table of ``sessions.toml`` (absent: nothing said of the series)."""
    if not path.exists():
        return SeriesInfo()
    text, data = read_toml(path)
    raw = data.get("series", {})

    def fail(key: str, reason: str, fix: str) -> CatalogueError:
        line = line_matching(text, rf"^\s*{key}\s*=") or line_matching(text, r"^\[series\]")
        return CatalogueError(path, f"line {line}: [series] {key}: {reason}", fix)

    if not isinstance(raw, dict):
        raise CatalogueError(path, "'series' must be a table", "write [series] on its own line, then key = value lines")
    unknown = sorted(set(raw) - SERIES_FIELDS)
    if unknown:
        raise fail(unknown[0], "is not a field of the series", f"use one of: {', '.join(sorted(SERIES_FIELDS))}")
    for key in ("description", "rights", "contact"):
        if not isinstance(raw.get(key, ""), str):
            raise fail(key, "must be a string", f'write {key} = "..."')

    def tables(key: str, required: str, fields: set[str]) -> list[dict[str, Any]]:
        items = raw.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get(required), str) for i in items):
            raise fail(key, f"must be a list of tables, each with a {required}", f'write {key} = [{{ {required} = "..." }}]')
        for item in items:
            if set(item) - fields:
                raise fail(key, f"'{sorted(set(item) - fields)[0]}' is not a field", f"use {', '.join(sorted(fields))}")
        return items

    organisers = tuple(
        Organiser(xml_safe(o["name"]).strip(), xml_safe(str(o.get("role", ""))).strip(), str(o.get("url", "")))
        for o in tables("organisers", "name", {"name", "role", "url"})
    )
    programme = tuple(
        PlannedSession(
            xml_safe(p["title"]).strip(),
            int(p["number"]) if isinstance(p.get("number"), int) else None,
            str(p.get("date", "")),
            xml_safe(str(p.get("description", ""))).strip(),
        )
        for p in tables("programme", "title", {"title", "number", "date", "description"})
    )
    return SeriesInfo(
        xml_safe(raw.get("description", "")).strip(), organisers, programme, xml_safe(raw.get("rights", "")).strip(), raw.get("contact", "")
    )


def load_catalogue(recordings_dir: Path) -> Catalogue:
    """Both catalogues of a recordings folder (``sessions.toml`` and ``themes.toml``)."""
    return Catalogue(
        sessions=load_sessions(recordings_dir / SESSIONS_FILE),
        themes=load_themes(recordings_dir / THEMES_FILE),
        series=load_series(recordings_dir / SESSIONS_FILE),
    )
