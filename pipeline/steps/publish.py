"""The ``publish`` step: the static site of the whole series (:mod:`pipeline.site.publish`),
one step for the series. A session that cannot be published is one failed row, and the
others are published without it."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict

from .. import __version__
from ..errors import ModelError
from ..project import Project, SessionPlan, State, Step
from ..store import Names, StageRecord, fingerprint
from ..text import utc_now
from .base import Context, Outcome, Stage, StepResult, failure


def publish_fingerprint(project: Project) -> str:
    """Everything the site is built from: every session's published files, the catalogue,
    the recordings it links, the options and the pipeline version (templates)."""
    store = project.store
    sessions = {}
    for session_id in store.sessions_with(Names.SYNTHESIS):
        names = (Names.SYNTHESIS, Names.TRANSCRIPT, Names.KEYWORDS, *Names.DOWNLOADS)
        sessions[session_id] = {name: store.sha256(session_id, name) for name in names if store.path(session_id, name).exists()}
    media = {}
    for session in project.catalogue.sessions:
        path = project.recordings_dir / session.recording
        if path.is_file():
            stat = path.stat()
            media[session.id] = f"{stat.st_size}@{stat.st_mtime_ns}"
    return fingerprint(
        {
            "sessions": sessions,
            "catalogue": asdict(project.catalogue),
            "media": media,
            "options": asdict(project.settings.publish),
            "rights": project.settings.archive.rights,
            "version": __version__,
        }
    )


class PublishStage(Stage):
    """The site, built from every session that has a synthesis."""

    name = "publish"
    series = True

    def fingerprint(self, ctx: Context, session_id: str) -> str:
        return publish_fingerprint(ctx.project)

    def is_done(self, project: Project, session_id: str, inputs: str) -> bool:
        record = project.store.series_state().get(self.name)
        return record is not None and record.inputs == inputs and project.store.site_dir.is_dir()

    def series_step(self, ctx: Context, sessions: Iterable[SessionPlan]) -> Step:
        """The site: done when built from today's inputs (sessions left out are named)."""
        project = ctx.project
        waiting = [p.session.id for p in sessions if p.step("synthesis").todo and p.step("synthesis").state is not State.FAILED]
        if waiting:
            return Step(self.name, State.WAITING, f"after synthesis of {len(waiting)} session(s)")
        if not project.store.sessions_with(Names.SYNTHESIS):
            return Step(self.name, State.WAITING, "needs a synthesis")
        inputs = publish_fingerprint(project)
        record = project.store.series_state().get(self.name)
        if self.is_done(project, "", inputs) and record is not None:
            left_out = record.facts.get("skipped") or []
            return Step(self.name, State.DONE, f"left out of the site: {', '.join(map(str, left_out))}" if left_out else "", inputs)
        row = project.store.last_run().get(("", self.name))
        if row and row.get("status") == "failed" and row.get("inputs") in (inputs, None, ""):
            return Step(self.name, State.FAILED, str(row.get("error", "")), inputs)
        return Step(self.name, State.STALE if record else State.MISSING, "", inputs)

    def run(self, ctx: Context, session_id: str, inputs: str) -> Outcome:
        raise NotImplementedError("the site is one step for the series (run_all)")

    def run_all(self, ctx: Context, session_ids: Sequence[str] | None) -> list[StepResult]:
        from ..site.publish import publish

        project, store = ctx.project, ctx.project.store
        if not store.sessions_with(Names.SYNTHESIS):
            return []
        started = time.perf_counter()
        try:
            inputs = publish_fingerprint(project)
            if not ctx.force and self.is_done(project, "", inputs):
                result = StepResult("", self.name, "up to date", inputs=inputs)
                ctx.reporter.finish(result)
                return [result]
            options = project.settings.publish
            site, skipped, written = publish(
                store,
                project.catalogue,
                options.base_url,
                recordings=project.recordings_dir,
                drafts=options.drafts,
                rights=project.settings.archive.rights,
            )
            rows = [
                StepResult(e.session_id, self.name, "failed", error=e.one_line())
                if e.failed
                else StepResult(e.session_id, self.name, "held back (not published yet)")
                for e in skipped
            ]
            facts = {
                "skipped": [e.session_id for e in skipped if e.failed],
                "held_back": [e.session_id for e in skipped if not e.failed],
                "files": written,
            }
            store.record_series(self.name, StageRecord(inputs, finished_utc=utc_now(), pipeline_version=__version__, facts=facts))
            result = StepResult("", self.name, "published", None, 0.0, time.perf_counter() - started, (site / "index.html",), inputs=inputs)
        except ModelError:
            raise
        except Exception as exc:
            rows, result = [], failure(exc, store.site_dir, "", self.name, started)
        for row in (*rows, result):
            ctx.reporter.finish(row)
        return [*rows, result]
