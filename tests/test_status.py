from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.catalogue import Catalogue
from pipeline.cli import main
from pipeline.plan import Project, State, make_plan, transcribe_fingerprint
from pipeline.runner import execute
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.transcribe import TranscriptionOptions

from .conftest import FakeTranscriber


def project(recordings: Path, store: Store, catalogue: Catalogue | None = None, settings: Settings | None = None) -> Project:
    return Project(recordings, catalogue or Catalogue(), settings or Settings(), store)


@pytest.fixture
def batch(tmp_path: Path, media_dir: Path) -> tuple[Path, Store]:
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    shutil.copy(media_dir / "good.m4a", recordings / "good.m4a")
    shutil.copy(media_dir / "notes.mp3", recordings / "notes.mp3")
    store = Store(tmp_path / "outputs")
    execute(project(recordings, store), ("transcribe",), make_transcriber=FakeTranscriber)
    return recordings, store


def by_id(plan):
    return {p.session.id: p for p in plan.sessions}


def states(session_plan):
    return [(s.stage, s.state.value) for s in session_plan.steps]


def test_status_tells_done_waiting_failed_and_what_a_run_would_do(batch: tuple[Path, Store]):
    recordings, store = batch
    plan = by_id(make_plan(project(recordings, store)))
    good, bad = plan["good"], plan["notes"]
    assert states(good) == [
        ("transcribe", "done"),
        ("speakers", "missing"),
        ("transcript", "waiting"),
        ("keywords", "waiting"),
        ("synthesis", "waiting"),
        ("archive", "waiting"),
    ]
    assert good.next_run == "speakers, transcript, keywords, synthesis, archive"
    assert bad.steps[0].state is State.FAILED and "notes.mp3: is not a media file" in bad.steps[0].reason


def test_changed_options_make_a_transcript_stale(batch: tuple[Path, Store]):
    recordings, store = batch
    plan = by_id(make_plan(project(recordings, store, settings=Settings(transcription=TranscriptionOptions(beam_size=1)))))
    assert plan["good"].steps[0].state is State.STALE


def test_an_interrupted_transcription_is_shown_with_its_progress(batch: tuple[Path, Store], media_dir: Path):
    recordings, store = batch
    shutil.copy(media_dir / "good.m4a", recordings / "second.m4a")
    p = project(recordings, store)
    inputs = transcribe_fingerprint(p, Catalogue().session_for(recordings / "second.m4a"), recordings / "second.m4a")
    with store.checkpoint("second", "transcribe", inputs, 0) as save:
        save({"id": 0, "start": 0.0, "end": 3.0, "text": "Bonjour.", "words": []})
    second = by_id(make_plan(p))["second"]
    assert second.steps[0].state is State.INTERRUPTED and second.steps[0].reason == "3 s transcribed"
    assert second.next_run.startswith("resume transcribe")


def test_cli_status_prints_a_table(batch: tuple[Path, Store], capsys: pytest.CaptureFixture[str]):
    recordings, store = batch
    assert main(["status", "--recordings", str(recordings), "--outputs", str(store.root)]) == 0
    err = capsys.readouterr().err
    assert "good" in err and "notes" in err and "next run" in err


def test_changed_model_files_make_a_transcript_stale(tmp_path: Path, media_dir: Path):
    import os

    from pipeline.models import resolve_model

    base = resolve_model("base", cache_dir=tmp_path / "cache")
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    shutil.copy(media_dir / "good.m4a", recordings / "good.m4a")
    store = Store(tmp_path / "outputs")
    p = project(recordings, store, settings=Settings(transcription=TranscriptionOptions(model=str(base.path))))
    execute(p, ("transcribe",), make_transcriber=FakeTranscriber)
    assert by_id(make_plan(p))["good"].steps[0].state is State.DONE
    os.utime(base.path / "config.json", ns=(1, 1))  # the model folder was replaced
    assert by_id(make_plan(p))["good"].steps[0].state is State.STALE
