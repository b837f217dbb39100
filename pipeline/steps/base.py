"""The one stage interface, and the one step executor.

A stage declares what it is (its name, the files of a session it needs, whether it runs once
for the whole series), how its inputs are fingerprinted, when it is done, and how it runs:
:meth:`Stage.run` computes, and returns the files to write in an :class:`Outcome`.
:func:`run_step` does everything else, the same way for every stage: the files it needs, the
freshness check, the editor's edits accepted when there is nothing to redo, error isolation,
timing, writing through the store (atomically, edits guarded), the record and the result.
The planner asks the same stage objects where each step stands (:meth:`Stage.plan`), so
``status`` and ``run`` agree by construction, done-rules included.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .. import __version__
from ..errors import ModelError, PipelineError, shown
from ..project import Project, SessionPlan, State, Step
from ..store import SessionState, StageRecord, Store
from ..text import utc_now

log = logging.getLogger("pipeline.runner")


@dataclass(frozen=True)
class StepResult:
    """What happened to one step: ``ran`` (with what it wrote), ``up to date`` or ``failed``."""

    session_id: str
    stage: str
    status: str
    recording: Path | None = None
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    files: tuple[Path, ...] = ()
    kept_edits: tuple[Path, ...] = ()
    error: str = ""
    inputs: str = ""

    @property
    def label(self) -> str:
        """How a reader names the step's subject: the recording, else the session."""
        return self.recording.name if self.recording else (self.session_id or "site")


@dataclass(frozen=True)
class RunReport:
    """Every step's result, in order."""

    results: tuple[StepResult, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[StepResult, ...]:
        """The steps that could not be done."""
        return tuple(r for r in self.results if r.status == "failed")

    def __add__(self, other: RunReport) -> RunReport:
        return RunReport(self.results + other.results)


class Reporter(Protocol):
    """Progress sink; the CLI draws bars, the library default draws nothing."""

    def start(self, label: str, total_seconds: float) -> None: ...
    def advance(self, done_seconds: float) -> None: ...
    def finish(self, result: StepResult) -> None: ...


class SilentReporter:
    """A reporter that reports nothing."""

    def start(self, label: str, total_seconds: float) -> None:
        """Ignore."""

    def advance(self, done_seconds: float) -> None:
        """Ignore."""

    def finish(self, result: StepResult) -> None:
        """Ignore."""


def failure(
    exc: BaseException, where: Path | str, session_id: str, stage: str, started: float, recording: Path | None = None, inputs: str = ""
) -> StepResult:
    """The one failed row for an exception (the project's errors carry their own line)."""
    if isinstance(exc, PipelineError):
        message = exc.one_line()
    else:
        log.debug("unexpected error in %s of %s", stage, where, exc_info=exc)
        message = shown(f"{where}: unexpected {type(exc).__name__}: {exc} (run with --verbose for the traceback and report it)")
    return StepResult(session_id, stage, "failed", recording, wall_seconds=time.perf_counter() - started, error=message, inputs=inputs)


def isolated(session_id: str, stage: str, where: Path | str, action: Callable[[], StepResult], recording: Path | None = None) -> StepResult:
    """Run one step; a model failure stops the batch, any other becomes a failed row."""
    started = time.perf_counter()
    try:
        return action()
    except ModelError:
        raise
    except Exception as exc:  # an unexpected fault in one step must not stop the batch
        return failure(exc, where, session_id, stage, started, recording)


@dataclass
class Models:
    """How a run gets its models: each loader called once, and only when a step needs it."""

    make_transcriber: Callable[[], Any] | None = None
    load_nlp: Callable[[], Any] | None = None
    load_encoder: Callable[[str], Any] | None = None
    loaded: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, load: Callable[[], Any]) -> Any:
        """The model ``key``, loaded by ``load`` the first time it is asked for."""
        if key not in self.loaded:
            self.loaded[key] = load()
        return self.loaded[key]

    def release(self, key: str) -> None:
        """Forget the model ``key`` and give its memory back to the system (a later step that
        asks for it loads it again)."""
        if self.loaded.pop(key, None) is not None:
            import gc

            gc.collect()
            give_back_memory()


def give_back_memory() -> None:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim``; elsewhere nothing):
    freed model memory otherwise stays counted in the process's size."""
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


@dataclass
class Context:
    """What a step runs with: the project, where progress goes, the models, and what a stage
    prepared once for this run (:meth:`Stage.prepare`)."""

    project: Project
    reporter: Reporter = field(default_factory=SilentReporter)
    models: Models = field(default_factory=Models)
    force: bool = False
    """Redo the steps even when they are up to date."""
    prepared: dict[str, Any] = field(default_factory=dict)
    decoded: tuple[str, Any] | None = None
    """The last recording transcribed in this process (its SHA-256 and its 16-bit samples),
    handed to the speakers stage, which would otherwise decode it again; taken by
    :meth:`take_decoded`."""

    def keep_decoded(self, sha256: str, samples: Any) -> None:
        """Hold the samples of the recording ``sha256``, just transcribed, for the next stage
        (one recording's at a time)."""
        self.decoded = (sha256, samples)

    def take_decoded(self, sha256: str) -> Any | None:
        """The samples of the recording ``sha256`` if this run decoded it last, else None;
        either way the run no longer holds them."""
        decoded, self.decoded = self.decoded, None
        return decoded[1] if decoded is not None and decoded[0] == sha256 else None


@dataclass(frozen=True)
class Outcome:
    """What a stage computed for one session: the files to write (by name in the session's
    folder), how the step reads in the summary, and facts for the record. ``elsewhere``: what
    it wrote outside the session's folder itself (an archive bag), recorded but not written
    by the store. ``then``: what to do once the files are written (a series file updated)."""

    status: str
    files: Mapping[str, str] = field(default_factory=dict)
    audio_seconds: float = 0.0
    facts: Mapping[str, Any] = field(default_factory=dict)
    elsewhere: tuple[Path, ...] = ()
    then: Callable[[], None] | None = None


Last = Mapping[tuple[str, str], Mapping[str, object]]
"""The last run's rows, by (session, stage)."""


class Stage:
    """A stage of the pipeline. Subclasses set :attr:`name` and :attr:`needs`, and write
    :meth:`fingerprint` and :meth:`run`; the rest has defaults."""

    name: str = ""
    needs: Mapping[str, tuple[str, str]] = {}
    """Files of the session's folder the stage reads, each with the reason and the fix a
    step says when it is missing."""
    series: bool = False
    """One step for the whole series (the site), not one per session."""
    archived: tuple[str, ...] = ()
    """Files of the session's folder it writes that belong in the archive bag."""
    off: str = "off"
    """What the plan says of the stage when the settings turn it off."""

    def enabled(self, project: Project) -> bool:
        """Whether the project's settings run this stage at all."""
        return True

    def fingerprint(self, ctx: Context, session_id: str) -> str:
        """What the step's output depends on, hashed."""
        raise NotImplementedError

    def is_done(self, project: Project, session_id: str, inputs: str) -> bool:
        """Whether the step ran on these inputs and its outputs are all there."""
        return project.store.is_fresh(session_id, self.name, inputs)

    def up_to_date(self, ctx: Context, session_id: str) -> None:
        """Called when the step has nothing to redo: the editor's versions of its files are
        recorded as the ones to check from now on."""
        ctx.project.store.accept_edits(session_id, self.name)

    def prepare(self, ctx: Context, session_ids: Sequence[str]) -> None:
        """Work done once for a run, before its steps (the keywords need every session's
        candidates)."""

    def run(self, ctx: Context, session_id: str, inputs: str) -> Outcome:
        """Compute the step's files; no file is written here."""
        raise NotImplementedError

    def series_step(self, ctx: Context, sessions: Iterable[SessionPlan]) -> Step:
        """Where a series stage stands, given every session's plan."""
        raise NotImplementedError

    def run_all(self, ctx: Context, session_ids: Sequence[str] | None) -> list[StepResult]:
        """Every step of the stage for ``session_ids``: prepared once, then one by one."""
        ids = list(session_ids or ())
        self.prepare(ctx, ids)
        return [run_step(self, ctx, session_id) for session_id in ids]

    def plan(self, ctx: Context, session_id: str, state: SessionState, last: Last, pending: Sequence[str]) -> Step:
        """Where the step stands, once the steps before it are done (``pending``: sessions
        whose transcript a run would redo)."""
        return recorded(self, ctx.project, session_id, state, self.fingerprint(ctx, session_id), last)


def recorded(stage: Stage, project: Project, session_id: str, state: SessionState, inputs: str, last: Last) -> Step:
    """A step whose inputs are known: done, failed (with the last run's reason), stale or
    missing; done by the stage's own rule, as a run decides."""
    store = project.store
    row = last.get((session_id, stage.name))
    if stage.is_done(project, session_id, inputs):
        seconds = row.get("seconds") if row and row.get("status") not in ("up to date", "failed") else None
        record = state.stages.get(stage.name)
        edited = [name for name in (record.files if record else {}) if store.is_edited(session_id, name, state)]
        reason = f"edited by an editor: {', '.join(edited)}" if edited else ""
        return Step(stage.name, State.DONE, reason, inputs, float(seconds) if isinstance(seconds, (int, float)) else None)
    if row and row.get("status") == "failed" and row.get("inputs") in (inputs, None, ""):
        return Step(stage.name, State.FAILED, str(row.get("error", "")), inputs)
    if stage.name in state.stages:
        return Step(stage.name, State.STALE, "its inputs changed", inputs)
    return Step(stage.name, State.MISSING, "", inputs)


def safe_folder(store: Store, session_id: str) -> Path | str:
    """The session's folder, or its id when that is not a safe folder name."""
    try:
        return store.session_dir(session_id)
    except PipelineError:
        return session_id


def run_step(stage: Stage, ctx: Context, session_id: str) -> StepResult:
    """One step of one session, the same way for every stage (see the module's docstring)."""
    store = ctx.project.store

    def action() -> StepResult:
        started = time.perf_counter()
        for name, (reason, fix) in stage.needs.items():
            if not store.path(session_id, name).exists():
                raise PipelineError(store.path(session_id, name), reason, fix)
        if not stage.enabled(ctx.project):
            return StepResult(session_id, stage.name, "up to date")
        inputs = stage.fingerprint(ctx, session_id)
        if not ctx.force and stage.is_done(ctx.project, session_id, inputs):
            stage.up_to_date(ctx, session_id)
            return StepResult(session_id, stage.name, "up to date", inputs=inputs)
        outcome = stage.run(ctx, session_id, inputs)
        record = StageRecord(inputs, finished_utc=utc_now(), pipeline_version=__version__, facts=dict(outcome.facts))
        paths: tuple[Path, ...]
        kept: tuple[Path, ...] = ()
        if outcome.elsewhere:
            store.record_stage(session_id, stage.name, record)
            paths = outcome.elsewhere
        else:
            written = store.write_stage(session_id, stage.name, inputs, outcome.files, record)
            paths, kept = tuple(w.path for w in written), tuple(w.path for w in written if w.kept_edit)
        if outcome.then is not None:
            outcome.then()
        return StepResult(
            session_id, stage.name, outcome.status, None, outcome.audio_seconds, time.perf_counter() - started, paths, kept, inputs=inputs
        )

    result = isolated(session_id, stage.name, safe_folder(store, session_id), action)
    ctx.reporter.finish(result)
    return result
