"""Runs the stages (:mod:`pipeline.steps`) in order, over the sessions ready for each.

Every step goes through the one executor (:func:`pipeline.steps.base.run_step`): the same
freshness check as the planner's, the same error rule (a model that cannot load stops the
batch, since nothing else could run; any other failure becomes one failed row, the batch goes
on, and the exit status says so), timing, writing and the result. Models (Whisper, spaCy,
the voice encoders) are loaded once, and only if a step needs them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .catalogue import Catalogue
from .errors import PipelineError, shown
from .project import Project
from .steps import NAMES, STAGES, Context, Models, Reporter, RunReport, SilentReporter, Stage, StepResult
from .steps.transcribe import transcriber_settings
from .store import Store
from .transcribe import EngineOptions, Transcriber, TranscriptionOptions

__all__ = [
    "Reporter",
    "RunReport",
    "SilentReporter",
    "StepResult",
    "execute",
    "outputs_of",
    "transcribe_recordings",
    "transcriber_settings",
]


def execute(
    project: Project,
    stages: Sequence[str] = NAMES,
    session_ids: Sequence[str] | None = None,
    force: bool = False,
    make_transcriber: Callable[[], Transcriber] | None = None,
    load_nlp: Callable[[], Any] | None = None,
    reporter: Reporter | None = None,
    load_encoder: Callable[[str], Any] | None = None,
    registry: Sequence[Stage] = STAGES,
) -> RunReport:
    """Run ``stages`` (in stage order) for ``session_ids`` (default: every session).

    Transcription covers the project's recordings; later stages cover the sessions that are
    ready for them (that have the first file they need). A session whose earlier stage
    failed in this run is not carried further.
    """
    ctx = Context(project, reporter or SilentReporter(), Models(make_transcriber, load_nlp, load_encoder), force)
    wanted = set(session_ids) if session_ids is not None else None
    report = RunReport()
    failed: set[str] = set()
    for stage in registry:
        if stage.name not in stages:
            continue
        if stage.series or not stage.needs:  # the site; the transcription, over the recordings
            results = stage.run_all(ctx, sorted(wanted) if wanted is not None else None)
        else:
            need = next(iter(stage.needs), None)
            pool = sorted(wanted) if wanted is not None else (project.store.sessions_with(need) if need else project.store.sessions())
            results = stage.run_all(ctx, [s for s in pool if s not in failed])
        report += RunReport(tuple(results))
        if not stage.series:
            failed |= {r.session_id for r in results if r.status == "failed"}
    rows = [
        {
            "session_id": r.session_id,
            "recording": shown(r.recording.name) if r.recording else "",
            "stage": r.stage,
            "status": r.status,
            "error": r.error,
            "seconds": round(r.wall_seconds, 2),
            "inputs": r.inputs,
        }
        for r in report.results
    ]
    try:
        project.store.record_run(rows)
    except PipelineError as exc:  # the record only serves `status`; the work itself is done
        logging.getLogger("pipeline.record").warning("%s; `pipeline status` will not show this run's failures", exc.one_line())
    return report


def outputs_of(results: Sequence[StepResult]) -> list[str]:
    """The folders written, for the summary."""
    return sorted({str(f.parent) for r in results for f in r.files})


def transcribe_recordings(
    recordings: Sequence[Path],
    catalogue: Catalogue,
    store: Store,
    options: TranscriptionOptions,
    make_transcriber: Callable[[], Transcriber],
    reporter: Reporter | None = None,
    force: bool = False,
    engine: EngineOptions | None = None,
) -> RunReport:
    """Transcribe the given recordings into ``store`` (the library form of ``pipeline transcribe``)."""
    from .settings import Settings

    folder = Path(recordings[0]).parent if recordings else Path(".")
    project = Project(
        folder, catalogue, Settings(transcription=options, engine=engine or EngineOptions()), store, tuple(Path(r) for r in recordings)
    )
    stages = ("transcribe", "speakers", "transcript")
    return execute(transcriber_settings(project), stages, None, force, make_transcriber=make_transcriber, reporter=reporter)
