"""The ``synthesis`` step: the draft ``synthesis.md`` of a session (:mod:`pipeline.synthesis`).
An edited synthesis is never overwritten: the new draft goes beside it as
``synthesis.draft.md``."""

from __future__ import annotations

from .. import keywords as keywords_stage
from .. import synthesis as synthesis_stage
from .. import transcript as transcript_io
from ..project import Project
from ..store import Names, fingerprint
from .base import Context, Outcome, Stage


def synthesis_fingerprint(project: Project, session_id: str) -> str:
    """The draft synthesis' fingerprint of a session with a transcript and keywords."""
    store = project.store
    inputs = synthesis_stage.inputs(
        store.sha256(session_id, Names.TRANSCRIPT),
        store.sha256(session_id, Names.KEYWORDS),
        project.session(session_id),
        project.catalogue.themes,
        project.settings.synthesis,
    )
    return fingerprint(inputs)


class SynthesisStage(Stage):
    """The draft synthesis, from the transcript, its keywords and the catalogue."""

    name = "synthesis"
    needs = {Names.KEYWORDS: ("no keywords yet", "run `pipeline keywords` first")}
    archived = (Names.SYNTHESIS,)

    def fingerprint(self, ctx: Context, session_id: str) -> str:
        return synthesis_fingerprint(ctx.project, session_id)

    def run(self, ctx: Context, session_id: str, inputs: str) -> Outcome:
        project, store = ctx.project, ctx.project.store
        transcript = transcript_io.load(store.path(session_id, Names.TRANSCRIPT))
        draft = synthesis_stage.synthesize(
            transcript,
            keywords_stage.load(store.path(session_id, Names.KEYWORDS)),
            project.session(session_id),
            project.catalogue.themes,
            store.sha256(session_id, Names.TRANSCRIPT),
            store.sha256(session_id, Names.KEYWORDS),
            project.settings.synthesis,
        )
        return Outcome("drafted", {Names.SYNTHESIS: draft.markdown}, transcript.duration)
