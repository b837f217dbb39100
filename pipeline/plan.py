"""One planner: where each (session, stage) stands, and why.

``pipeline status`` prints the plan; ``pipeline run`` runs the same stage objects
(:mod:`pipeline.steps`), whose fingerprints and done-rules the plan asks here, so the two
agree by construction. A step is ``done`` when the stage says so for today's inputs (its
recorded fingerprint matches and its outputs are there), ``stale`` when its inputs changed,
``missing`` when it never ran, ``waiting`` when an earlier step of the session must run
first or a file it needs is missing, ``interrupted`` when a killed transcription left a
checkpoint (the next run resumes it), and ``failed`` with the reason from the last run.
Read-only: no model is loaded, nothing written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .catalogue import Session
from .project import Plan, Project, SessionPlan, Source, State, Step, find_recordings
from .steps import NAMES, STAGES, Context, Stage
from .steps.speakers import speakers_fingerprint
from .steps.transcribe import TranscribeStage, transcribe_fingerprint

STAGE_NAMES = NAMES
"""Every stage's name, in the order a run takes them."""

__all__ = [
    "STAGE_NAMES",
    "Plan",
    "Project",
    "SessionPlan",
    "Source",
    "State",
    "Step",
    "find_recordings",
    "later_steps",
    "make_plan",
    "speakers_fingerprint",
    "transcribe_fingerprint",
]


def later_steps(ctx: Context, stages: Sequence[Stage], session_id: str, first: Step, pending: Sequence[str] = ()) -> tuple[Step, ...]:
    """The steps of a session after its transcription, in stage order: each waits while an
    earlier step has work or a file it needs is missing; else its stage says where it
    stands. ``pending``: sessions whose transcript a run would redo (their candidates may
    change the whole series' keyword ranking)."""
    project = ctx.project
    store = project.store
    state = store.state(session_id)
    last = store.last_run()
    steps = [first]
    for stage in stages:
        if not stage.enabled(project):
            steps.append(Step(stage.name, State.DONE, stage.off))
            continue
        before = next((s for s in reversed(steps) if s.todo), None)
        if before is not None:
            steps.append(Step(stage.name, State.WAITING, f"after {before.stage}"))
            continue
        missing = [name for name in stage.needs if not store.path(session_id, name).exists()]
        if missing:
            steps.append(Step(stage.name, State.WAITING, f"needs {missing[0]}"))
            continue
        steps.append(stage.plan(ctx, session_id, state, last, pending))
    return tuple(steps[1:])


def make_plan(project: Project, stages: Sequence[Stage] = STAGES) -> Plan:
    """Every recording's session and every session in ``outputs/``, stage by stage."""
    ctx = Context(project)
    first = next(s for s in stages if isinstance(s, TranscribeStage))
    later = [s for s in stages if not s.series and s is not first]
    entries: dict[str, tuple[Session, Path | None, Step]] = {}
    for source in project.sources():
        key = source.session.id if not source.error else f"{source.session.id} ({source.path.name})"
        entries[key] = (source.session, source.path, first.step_of(project, source.session, source.path, source.error))
    if project.explicit is None:
        for session_id in project.store.sessions():
            if session_id not in entries:
                session = project.catalogue.session_by_id(session_id)
                entries[session_id] = (session, None, first.step_of(project, session, None))
    steps = {k: later_steps(ctx, later, session.id, step) for k, (session, _, step) in entries.items()}
    # a session whose transcript will change may change everybody's keyword ranking
    transcript = [i for i, s in enumerate(later) if s.name == "transcript"]
    if transcript:
        at = transcript[0]
        pending = [
            entries[k][0].id
            for k, found in steps.items()
            if found[at].todo and State.FAILED not in (*(s.state for s in found[: at + 1]), entries[k][2].state)
        ]
        if pending:
            steps = {k: later_steps(ctx, later, session.id, step, pending) for k, (session, _, step) in entries.items()}
    sessions = tuple(SessionPlan(entries[k][0], entries[k][1], (entries[k][2], *steps[k])) for k in sorted(entries))
    series = tuple(stage.series_step(ctx, sessions) for stage in stages if stage.series)
    return Plan(sessions, series, project.store.holder())
