"""Batch runs: find recordings, skip the up-to-date ones, isolate failures, report.

One bad recording never stops the batch: its error is recorded in the report and the next
recording goes on. The Whisper model is loaded once, only if something needs transcribing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from . import __version__
from . import transcript as transcript_io
from .catalogue import Catalogue, Session
from .errors import ModelError, PipelineError
from .media import MEDIA_SUFFIXES, decode, probe
from .store import Store, fingerprint
from .subtitles import all_renderings
from .transcribe import Transcriber, TranscriptionOptions, build_vocabulary, transcribe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionResult:
    """What happened to one recording."""

    recording: Path
    session_id: str
    status: str  # "transcribed", "up to date" or "failed"
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    files: tuple[Path, ...] = ()
    kept_edits: tuple[Path, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class RunReport:
    """Every recording's result, in order."""

    results: tuple[SessionResult, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[SessionResult, ...]:
        """The recordings that could not be processed."""
        return tuple(r for r in self.results if r.status == "failed")


class Reporter(Protocol):
    """Progress sink; the CLI draws bars, the library default draws nothing."""

    def start(self, recording: Path, total_seconds: float) -> None: ...
    def advance(self, done_seconds: float) -> None: ...
    def finish(self, result: SessionResult) -> None: ...


class SilentReporter:
    """A reporter that reports nothing."""

    def start(self, recording: Path, total_seconds: float) -> None:
        """Ignore."""

    def advance(self, done_seconds: float) -> None:
        """Ignore."""

    def finish(self, result: SessionResult) -> None:
        """Ignore."""


def find_recordings(folder: Path) -> list[Path]:
    """Media files directly inside ``folder``, sorted by name (hidden files skipped)."""
    return sorted(
        p for p in folder.iterdir() if p.suffix.lower() in MEDIA_SUFFIXES and not p.name.startswith(".")
    )


def transcribe_inputs(session: Session, sha256: str, options: TranscriptionOptions, vocabulary: str) -> dict[str, object]:
    """What the transcription of a recording depends on; any change makes it stale."""
    return {
        "recording_sha256": sha256,
        "session": asdict(session),
        "options": asdict(options),
        "vocabulary": vocabulary,
        "pipeline_version": __version__,
    }


def transcribe_recordings(
    recordings: Sequence[Path],
    catalogue: Catalogue,
    store: Store,
    options: TranscriptionOptions,
    make_transcriber: Callable[[], Transcriber],
    reporter: Reporter | None = None,
    force: bool = False,
) -> RunReport:
    """Transcribe each recording into ``store``; failures are reported, never raised."""
    reporter = reporter or SilentReporter()
    transcriber: Transcriber | None = None
    results = []
    for path in recordings:
        started = time.perf_counter()
        session = catalogue.session_for(Path(path))
        try:
            recording = probe(Path(path))
            vocabulary = build_vocabulary(session, catalogue.themes) if options.use_vocabulary else ""
            inputs = fingerprint(transcribe_inputs(session, recording.sha256, options, vocabulary))
            if not force and store.is_fresh(session.id, "transcribe", inputs):
                result = SessionResult(path, session.id, "up to date", recording.duration)
                reporter.finish(result)
                results.append(result)
                continue
            reporter.start(path, recording.duration)
            audio = decode(recording)
            if transcriber is None:
                transcriber = make_transcriber()
            transcript = transcribe(recording, audio, session, transcriber, options, catalogue.themes, reporter.advance)
            del audio
            files = {"transcript.json": transcript_io.dumps(transcript)}
            files.update({f"transcript.{suffix}": text for suffix, text in all_renderings(transcript, session.title)})
            written = store.write_stage(session.id, "transcribe", inputs, files, {"pipeline_version": __version__, "finished_utc": transcript.provenance.finished_utc})
            result = SessionResult(
                path,
                session.id,
                "transcribed",
                transcript.duration,
                time.perf_counter() - started,
                tuple(w.path for w in written),
                tuple(w.path for w in written if w.kept_edit),
            )
        except ModelError:
            raise  # the model serves every recording: nothing else can run, so stop here
        except PipelineError as exc:
            log.error("%s", exc.one_line())
            result = SessionResult(path, session.id, "failed", wall_seconds=time.perf_counter() - started, error=exc.one_line())
        except Exception as exc:  # an unexpected fault in one recording must not stop the batch
            log.debug("unexpected error on %s", path, exc_info=True)
            message = f"{path}: unexpected {type(exc).__name__}: {exc} (run with --verbose for the traceback and report it)"
            result = SessionResult(path, session.id, "failed", wall_seconds=time.perf_counter() - started, error=message)
        reporter.finish(result)
        results.append(result)
    return RunReport(tuple(results))


def describe(results: Iterable[SessionResult]) -> list[str]:
    """One plain line per result, for logs and tests."""
    lines = []
    for r in results:
        if r.status == "failed":
            lines.append(f"FAILED {r.error}")
        else:
            lines.append(f"{r.status}: {r.session_id} ({r.audio_seconds:.0f} s of audio)")
    return lines
