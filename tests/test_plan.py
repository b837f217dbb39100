"""`status` and `run` agree: the plan's to-do list is exactly what a run then does, and a run
leaves nothing to do, over a matrix of edits, option changes, parallel runs, interruptions
and failures."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.catalogue import Catalogue, Session, Speaker
from pipeline.plan import Project, State, make_plan, transcribe_fingerprint
from pipeline.runner import execute
from pipeline.settings import Settings
from pipeline.store import Names, Store
from pipeline.transcribe import EngineOptions, TranscriptionOptions

from .conftest import FakeTranscriber

TEXTS = [
    "Bonjour à toutes et à tous.",
    "La sobriété numérique commence par la mesure de la consommation énergétique des centres de données.",
    "La gouvernance des données engage les collectivités et les citoyens.",
]


def fake() -> FakeTranscriber:
    return FakeTranscriber(texts=list(TEXTS))


@pytest.fixture
def base(tmp_path: Path, media_dir: Path, nlp, themes) -> Project:
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for name in ("alpha.m4a", "beta.m4a"):
        shutil.copy(media_dir / "good.m4a", recordings / name)
    catalogue = Catalogue(
        sessions=(
            Session(
                id="alpha",
                title="Sobriété numérique",
                recording="alpha.m4a",
                speakers=(Speaker("Camille Durand"),),
                replay_url="https://example.org/a",
            ),
        ),
        themes=themes,
    )
    project = Project(recordings, catalogue, Settings(), Store(tmp_path / "outputs"))
    run(project, nlp)
    return project


def run(project: Project, nlp, **kwargs):
    return execute(project, make_transcriber=fake, load_nlp=lambda: nlp, **kwargs)


def planned(project: Project) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """What status says a run will do for sure, and what it may do (steps that wait for
    an earlier step: whether they run depends on what that step produces)."""
    plan = make_plan(project)
    steps = [(p.session.id, s) for p in plan.sessions for s in p.steps] + [("", s) for s in plan.series]
    sure = {(sid, s.stage) for sid, s in steps if s.todo and s.state is not State.WAITING}
    maybe = {(sid, s.stage) for sid, s in steps if s.state is State.WAITING}
    return sure, maybe


def did(report) -> set[tuple[str, str]]:
    # A session left out of the site is a failed row of the one publish step.
    return {("" if r.stage == "publish" else r.session_id, r.stage) for r in report.results if r.status != "up to date"}


def edit(project: Project, session_id: str, name: str) -> None:
    path = project.store.path(session_id, name)
    path.write_text(path.read_text(encoding="utf-8") + "\nCorrigé par l'éditrice.\n", encoding="utf-8")


def settings(project: Project, **changes) -> Project:
    return replace(project, settings=replace(project.settings, **changes))


def catalogue(project: Project, session: Session) -> Project:
    others = tuple(s for s in project.catalogue.sessions if s.id != session.id)
    return replace(project, catalogue=replace(project.catalogue, sessions=(*others, session)))


def interrupt(project: Project) -> Project:
    recording = project.recordings_dir / "gamma.m4a"
    shutil.copy(project.recordings_dir / "alpha.m4a", recording)
    recording.write_bytes(recording.read_bytes() + b"\0")  # another file, another hash
    inputs = transcribe_fingerprint(project, project.catalogue.session_for(recording), recording)
    with project.store.checkpoint("gamma", "transcribe", inputs, 0) as save:
        save({"id": 0, "start": 0.0, "end": 1.5, "text": "Bonjour à toutes et à tous.", "words": []})
    return project


def bad_recording(project: Project) -> Project:
    (project.recordings_dir / "notes.mp3").write_text("pas un enregistrement\n", encoding="utf-8")
    return project


def broken_keywords(project: Project) -> Project:
    project.store.path("beta", Names.KEYWORDS).write_text("{ cassé", encoding="utf-8")
    return project


SCENARIOS: dict[str, Callable[[Project], Project]] = {
    "nothing changed": lambda p: p,
    "transcript.txt edited": lambda p: (edit(p, "alpha", Names.TRANSCRIPT_TXT), p)[1],
    "synthesis edited": lambda p: (edit(p, "alpha", Names.SYNTHESIS), p)[1],
    "--jobs 2 and 1 thread": lambda p: settings(p, engine=EngineOptions(jobs=2, cpu_threads=1)),
    "beam size changed": lambda p: settings(p, transcription=TranscriptionOptions(beam_size=1)),
    "keyword count changed": lambda p: settings(p, keywords=replace(p.settings.keywords, top_n=5)),
    "replay url changed": lambda p: catalogue(p, replace(p.catalogue.sessions[0], replay_url="https://example.org/autre")),
    "speaker renamed": lambda p: catalogue(p, replace(p.catalogue.sessions[0], speakers=(Speaker("Camille Martin"),))),
    "interrupted transcription": interrupt,
    "bad recording added": bad_recording,
    "keywords.json broken by hand": broken_keywords,
    "transcript deleted": lambda p: (p.store.path("beta", Names.TRANSCRIPT).unlink(), p)[1],
    "site deleted": lambda p: (shutil.rmtree(p.store.site_dir), p)[1],
    "bag deleted": lambda p: (shutil.rmtree(p.store.bag_dir("alpha")), p)[1],
    "decoding deleted": lambda p: (p.store.path("beta", Names.ASR).unlink(), p)[1],
    "voices deleted": lambda p: (p.store.path("alpha", Names.SPEAKERS).unlink(), p)[1],
    "speakers.toml deleted": lambda p: (p.store.path("alpha", Names.SPEAKER_NAMES).unlink(), p)[1],
    "review.md deleted": lambda p: (p.store.path("alpha", Names.REVIEW).unlink(), p)[1],
    "keywords.md deleted": lambda p: (p.store.path("alpha", Names.KEYWORDS_MD).unlink(), p)[1],
    "synthesis deleted": lambda p: (p.store.path("beta", Names.SYNTHESIS).unlink(), p)[1],
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_status_and_run_agree(base: Project, nlp, scenario: str):
    project = SCENARIOS[scenario](base)
    sure, maybe = planned(project)
    done = did(report := run(project, nlp))
    assert sure <= done, f"{scenario}: status said {sorted(sure)} for sure, the run did {sorted(done)}"
    assert done <= sure | maybe, f"{scenario}: the run did {sorted(done - sure - maybe)}, which status called done"
    # a session left out of the site is reported, while the site itself is published
    failed = {(r.session_id, r.stage) for r in report.failed if r.stage != "publish" or not r.session_id}
    after, waiting = planned(project)
    assert after == failed, f"{scenario}: after the run, status still shows {sorted(after - failed)}"
    assert all(sid in {s for s, _ in failed} or stage == "publish" for sid, stage in waiting), (
        f"{scenario}: {sorted(waiting)} still waiting"
    )


EXPECTED = {
    "nothing changed": set(),
    "transcript.txt edited": {("alpha", "transcript")},  # read back; what follows waits for its result
    "synthesis edited": {("alpha", "archive"), ("", "publish")},
    "--jobs 2 and 1 thread": set(),
    "replay url changed": {("alpha", "synthesis")},
    "speaker renamed": {("alpha", "speakers")},
    "beam size changed": {("alpha", "transcribe"), ("beta", "transcribe")},
    "keyword count changed": {("alpha", "keywords"), ("beta", "keywords")},
    "bag deleted": {("alpha", "archive")},
    "keywords.md deleted": {("alpha", "keywords")},
    "review.md deleted": {("alpha", "transcript")},
}


@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_what_status_says_for_sure(base: Project, scenario: str):
    """Engine options (--jobs, threads) never make work; an edited synthesis reaches the site
    and the archive only, a corrected transcript.txt is read back by the transcript stage;
    a replay URL changes the synthesis, not the transcript."""
    sure, _ = planned(SCENARIOS[scenario](base))
    assert sure == EXPECTED[scenario]
