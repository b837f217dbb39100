"""Project settings: ``recordings/pipeline.toml`` persists non-default options.

Each table fills one options dataclass: ``[transcription]`` (what Whisper computes),
``[engine]`` (how it runs: device, threads, jobs; never fingerprinted), ``[vocabulary]``
(names and terms corrected after decoding), ``[keywords]``,
``[synthesis]``, ``[publish]`` and ``[archive]``. A run and ``pipeline status`` read the same
file, so they always agree on what is up to date; command-line options override it for one
command. Every error names the file, the line and the fix.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .catalogue import read_toml
from .errors import CatalogueError
from .keywords import KeywordOptions
from .speakers import SpeakerOptions
from .synthesis import SynthesisOptions
from .text import toml_string
from .transcribe import EngineOptions, TranscriptionOptions
from .vocabulary import VocabularyOptions

SETTINGS_FILE = "pipeline.toml"
DEFAULT_RIGHTS = "Tous droits réservés aux auteurs et aux intervenants ; réutilisation sur autorisation."


@dataclass(frozen=True)
class PublishOptions:
    """How the site is built."""

    base_url: str = ""
    """Absolute address of the published site (for the feed's links); empty: relative links."""
    drafts: str = "mark"
    """A synthesis not yet published: ``mark`` (on the site, marked as a draft wherever it
    appears) or ``hide`` (kept off the site)."""

    def __post_init__(self) -> None:
        if self.drafts not in {"mark", "hide"}:
            raise ValueError(f'drafts = {self.drafts!r} is neither "mark" nor "hide"')


@dataclass(frozen=True)
class ArchiveOptions:
    """How archive bags are made."""

    with_media: bool = False
    """Put the recording itself in the bag (not only its checksum)."""
    rights: str = DEFAULT_RIGHTS
    """Rights statement for Dublin Core."""


@dataclass(frozen=True)
class Settings:
    """Every stage's options, as the project file and the command line set them."""

    transcription: TranscriptionOptions = field(default_factory=TranscriptionOptions)
    engine: EngineOptions = field(default_factory=EngineOptions)
    speakers: SpeakerOptions = field(default_factory=SpeakerOptions)
    vocabulary: VocabularyOptions = field(default_factory=VocabularyOptions)
    keywords: KeywordOptions = field(default_factory=KeywordOptions)
    synthesis: SynthesisOptions = field(default_factory=SynthesisOptions)
    publish: PublishOptions = field(default_factory=PublishOptions)
    archive: ArchiveOptions = field(default_factory=ArchiveOptions)

    def overridden(self, **sections: Mapping[str, Any]) -> Settings:
        """A copy with some fields replaced (``None`` values mean « not given »)."""
        changed = {}
        for section, values in sections.items():
            given = {k: v for k, v in values.items() if v is not None}
            if given:
                changed[section] = replace(getattr(self, section), **given)
        return replace(self, **changed)


def _allowed(annotation: Any) -> tuple[type, ...]:
    """The Python types a field accepts (from its annotation string)."""
    hint = annotation if not isinstance(annotation, str) else eval(annotation, {**vars(typing), "types": types})  # noqa: S307 - our own annotations
    args = typing.get_args(hint)
    kinds = args if args else (hint,)
    allowed: list[type] = []
    for kind in kinds:
        if kind is type(None):
            allowed.append(type(None))
        elif kind is float:
            allowed += [float, int]
        elif isinstance(kind, type):
            allowed.append(kind)
    return tuple(allowed)


def _line_of(text: str, section: str, key: str) -> int:
    lines = text.splitlines()
    inside = False
    for number, line in enumerate(lines, start=1):
        header = re.match(r"^\s*\[\s*([A-Za-z_-]+)\s*\]", line)
        if header:
            inside = header.group(1) == section
            if inside and not key:
                return number
        elif inside and re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line):
            return number
    return 0


MAXIMA = {
    ("speakers", "similarity"): 1,
    ("speakers", "recognise_similarity"): 1,
    ("vocabulary", "min_similarity"): 1,
    ("vocabulary", "min_similarity_single"): 1,
    ("keywords", "theme_similarity"): 1,
    ("keywords", "theme_margin"): 1,
    ("keywords", "theme_confidence"): 1,
    ("keywords", "series_words"): 1,
}
"""Largest accepted values: similarities, probabilities and shares are at most 1."""
MINIMA = {("transcription", "beam_size"): 1, ("engine", "jobs"): 1}
"""Smallest accepted values where it is not 0; no numeric setting whose default is 0 or more
may be negative."""


def _section(path: Path, text: str, name: str, raw: Any, default: Any) -> Any:
    if not isinstance(raw, dict):
        raise CatalogueError(
            path, f"line {_line_of(text, name, '')}: [{name}] must be a table", f"write [{name}] on its own line, then key = value lines"
        )
    known = {f.name: f for f in fields(default)}
    values = {}
    for key, value in raw.items():
        line = _line_of(text, name, key)
        if key not in known:
            raise CatalogueError(path, f"line {line}: [{name}] has no setting '{key}'", f"use one of: {', '.join(sorted(known))}")
        allowed = _allowed(known[key].type)
        if isinstance(value, bool) and bool not in allowed or not isinstance(value, allowed):
            expected = " or ".join(sorted({t.__name__ for t in allowed if t is not type(None)}))
            raise CatalogueError(
                path, f"line {line}: [{name}] {key} = {value!r} is not a {expected}", f"write {key} = {_example(default, key)}"
            )
        least = MINIMA.get((name, key), 0)
        if isinstance(value, int | float) and not isinstance(value, bool) and value < least <= getattr(default, key):
            raise CatalogueError(
                path, f"line {line}: [{name}] {key} = {value!r} is below {least}", f"write {key} = {_example(default, key)}"
            )
        most = MAXIMA.get((name, key))
        if most is not None and isinstance(value, int | float) and value > most:
            raise CatalogueError(
                path,
                f"line {line}: [{name}] {key} = {value!r} is above {most}",
                f"write a value from 0 to {most}, e.g. {key} = {_example(default, key)}",
            )
        values[key] = value
    try:
        return replace(default, **values)
    except (TypeError, ValueError) as exc:
        raise CatalogueError(path, f"line {_line_of(text, name, '')}: [{name}]: {exc}", "fix the values of this table") from exc


def _example(default: Any, key: str) -> str:
    value = getattr(default, key)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value) if value is not None else '""'


def load_settings(recordings_dir: Path) -> Settings:
    """``pipeline.toml`` of a recordings folder; absent file: every default."""
    path = recordings_dir / SETTINGS_FILE
    if not path.exists():
        return Settings()
    text, data = read_toml(path)
    defaults = Settings()
    sections = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(Settings)}
    unknown = sorted(set(data) - set(sections))
    if unknown:
        raise CatalogueError(path, f"unknown table [{unknown[0]}]", f"use tables among: {', '.join(f'[{s}]' for s in sections)}")
    chosen = {name: _section(path, text, name, data[name], default) for name, default in sections.items() if name in data}
    settings = replace(defaults, **chosen)
    language = settings.transcription.language
    if language in ("auto", ""):
        settings = replace(settings, transcription=replace(settings.transcription, language=None))
    return settings


def describe(settings: Settings) -> str:
    """The settings as ``pipeline.toml`` text (every value, defaults included)."""
    lines = []
    for section in dataclasses.fields(Settings):
        lines.append(f"[{section.name}]")
        options = getattr(settings, section.name)
        for item in fields(options):
            value = getattr(options, item.name)
            if value is None:
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, str):
                text = toml_string(value)
            else:
                text = repr(value)
            lines.append(f"{item.name} = {text}")
        lines.append("")
    return "\n".join(lines)
