"""The stages, in the order a run takes them: one module each, one line each below.

Adding a stage is a module here (a :class:`~.base.Stage`: its name, the files it needs, its
fingerprint, its run) and its line in :data:`COMPUTING`; the planner, the runner, the
summary and the archive bag follow (the bag carries every stage's ``archived`` files)."""

from __future__ import annotations

from collections.abc import Sequence

from .archive import ArchiveStage
from .base import Context, Models, Outcome, Reporter, RunReport, SilentReporter, Stage, StepResult, run_step
from .keywords import KeywordsStage
from .publish import PublishStage
from .speakers import SpeakersStage
from .synthesis import SynthesisStage
from .transcribe import TranscribeStage
from .transcript import TranscriptStage

COMPUTING: tuple[Stage, ...] = (
    TranscribeStage(),
    SpeakersStage(),
    TranscriptStage(),
    KeywordsStage(),
    SynthesisStage(),
)
"""The stages that compute a session's files, in order; each reads what the ones before wrote."""


def assemble(computing: Sequence[Stage]) -> tuple[Stage, ...]:
    """A whole pipeline: the computing stages, then the site and the archive (whose bags
    carry the files the computing stages declare ``archived``)."""
    payload = tuple(dict.fromkeys(name for stage in computing for name in stage.archived))
    return (*computing, PublishStage(), ArchiveStage(payload))


STAGES: tuple[Stage, ...] = assemble(COMPUTING)
"""Every stage, in the order a run takes them."""
NAMES = tuple(stage.name for stage in STAGES)

__all__ = [
    "COMPUTING",
    "NAMES",
    "STAGES",
    "Context",
    "Models",
    "Outcome",
    "Reporter",
    "RunReport",
    "SilentReporter",
    "Stage",
    "StepResult",
    "assemble",
    "run_step",
]
