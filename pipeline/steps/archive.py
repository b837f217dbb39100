"""The ``archive`` step: one BagIt bag per session (:mod:`pipeline.archive`), written in
``outputs/archive/``; done while its inputs are unchanged and the bag is there."""

from __future__ import annotations

from dataclasses import asdict

from ..media import sha256_file
from ..project import Project
from ..store import Names, fingerprint
from .base import Context, Outcome, Stage

ARCHIVE_VERSION = 1


def archive_fingerprint(project: Project, session_id: str, payload: tuple[str, ...]) -> str:
    """What a session's bag holds: its files, its catalogue entry and the archive options."""
    store = project.store
    files = {name: store.sha256(session_id, name) for name in payload if store.path(session_id, name).exists()}
    return fingerprint(
        {
            "files": files,
            "session": asdict(project.session(session_id)),
            "options": asdict(project.settings.archive),
            "version": ARCHIVE_VERSION,
        }
    )


class ArchiveStage(Stage):
    """A bag of what the stages before it wrote (each declares its ``archived`` files)."""

    name = "archive"
    needs = {Names.TRANSCRIPT: ("no transcript to archive", "run `pipeline run` first")}

    def __init__(self, payload: tuple[str, ...] = ()) -> None:
        self.payload = payload
        """The files a bag carries of a session's folder, in the stages' order."""

    def fingerprint(self, ctx: Context, session_id: str) -> str:
        return archive_fingerprint(ctx.project, session_id, self.payload)

    def is_done(self, project: Project, session_id: str, inputs: str) -> bool:
        record = project.store.state(session_id).stages.get(self.name)
        return record is not None and record.inputs == inputs and project.store.bag_dir(session_id).is_dir()

    def up_to_date(self, ctx: Context, session_id: str) -> None:
        """Nothing to accept: a bag holds no editor's file of its own."""

    def run(self, ctx: Context, session_id: str, inputs: str) -> Outcome:
        from ..archive import archive_session

        project = ctx.project
        options = project.settings.archive
        bag = archive_session(
            project.store, project.catalogue, session_id, project.recordings_dir, options.with_media, options.rights, self.payload
        )
        # the tag manifests seal bag-info.txt and the manifests: their hashes kept apart, so that their loss is noticed
        facts = {"tagmanifests": {p.name: sha256_file(p) for p in sorted(bag.glob("tagmanifest-*.txt"))}}
        return Outcome("archived", facts=facts, elsewhere=(bag,))
