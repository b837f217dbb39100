"""The few exceptions a user sees. Each message names the file and the fix."""

from __future__ import annotations

from pathlib import Path


def shown(text: object) -> str:
    """Text safe to print and to write as UTF-8: a file name that is not valid UTF-8 keeps
    its readable part, the rest becomes U+FFFD; line breaks become spaces (one line)."""
    value = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value.replace("\r", " ").replace("\n", " ")


class PipelineError(Exception):
    """Base class: an error the CLI turns into one line and a non-zero exit status."""

    def __init__(self, path: Path | str | None, reason: str, fix: str = "") -> None:
        self.path = Path(path) if path is not None else None
        self.reason = reason
        self.fix = fix
        super().__init__(self.one_line())

    def __reduce__(self) -> tuple[type[PipelineError], tuple[Path | None, str, str]]:
        # Errors cross process boundaries (parallel publishing): rebuild them whole.
        return (self.__class__, (self.path, self.reason, self.fix))

    def one_line(self) -> str:
        """The message as the CLI prints it: ``file: reason (fix)``."""
        where = f"{shown(self.path)}: " if self.path is not None else ""
        fix = f" ({self.fix})" if self.fix else ""
        return shown(f"{where}{self.reason}{fix}")


class RecordingError(PipelineError):
    """A recording cannot be ingested: missing, unreadable, not media, no audio, too short..."""


class CatalogueError(PipelineError):
    """``sessions.toml`` or ``themes.toml`` is malformed."""


class EditorFileError(CatalogueError):
    """A file an editor writes (corrected transcript, glossary, keyword curation) is
    malformed; the reason starts with the line."""


class ModelError(PipelineError):
    """A Whisper model cannot be found, assembled or verified."""


class OutputError(PipelineError):
    """An output cannot be written (permissions, disk full, unsafe session id)."""


class TranscriptFormatError(PipelineError):
    """A ``transcript.json`` does not follow the schema this version reads."""
