from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.catalogue import Catalogue
from pipeline.cli import main
from pipeline.runner import find_recordings, transcribe_recordings
from pipeline.status import record_last_run, session_status
from pipeline.store import Store
from pipeline.transcribe import TranscriptionOptions

from .conftest import FakeTranscriber


@pytest.fixture
def batch(tmp_path: Path, media_dir: Path) -> tuple[Path, Store]:
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    shutil.copy(media_dir / "good.m4a", recordings / "good.m4a")
    shutil.copy(media_dir / "notes.mp3", recordings / "notes.mp3")
    store = Store(tmp_path / "outputs")
    report = transcribe_recordings(find_recordings(recordings), Catalogue(), store, TranscriptionOptions(), FakeTranscriber)
    record_last_run(store, report)
    return recordings, store


def by_id(statuses):
    return {s.session_id: s for s in statuses}


def test_status_tells_done_missing_failed_and_what_a_run_would_do(batch: tuple[Path, Store]):
    recordings, store = batch
    statuses = by_id(session_status(store, Catalogue(), recordings))
    good, bad = statuses["good"], statuses["notes"]
    assert [(s.stage, s.state) for s in good.stages] == [("transcribe", "done"), ("keywords", "missing"), ("synthesis", "missing")]
    assert good.next_run == "keywords, synthesis"
    assert bad.stages[0].state == "failed" and "notes.mp3: is not a media file" in bad.stages[0].detail


def test_status_agrees_with_a_run_that_finds_everything_up_to_date(tmp_path: Path, media_dir: Path):
    from pipeline.catalogue import load_themes
    from pipeline.keywords import KeywordOptions, load_nlp
    from pipeline.runner import keywords_for_sessions, synthesize_sessions
    from pipeline.synthesis import SynthesisOptions

    from .conftest import ROOT

    recordings = tmp_path / "recordings"
    recordings.mkdir()
    shutil.copy(media_dir / "good.m4a", recordings / "Séance n°4.m4a")
    store = Store(tmp_path / "outputs")
    catalogue = Catalogue(themes=load_themes(ROOT / "recordings" / "themes.toml"))
    transcribe_recordings(find_recordings(recordings), catalogue, store, TranscriptionOptions(), FakeTranscriber)
    keywords_for_sessions(store, catalogue, KeywordOptions(), load_nlp)
    synthesize_sessions(store, catalogue, SynthesisOptions())
    [status] = session_status(store, catalogue, recordings)
    assert [s.state for s in status.stages] == ["done", "done", "done"] and status.next_run == "nothing"


def test_changed_options_make_a_transcript_stale(batch: tuple[Path, Store]):
    recordings, store = batch
    statuses = by_id(session_status(store, Catalogue(), recordings, TranscriptionOptions(beam_size=1)))
    assert statuses["good"].stages[0].state == "stale"


def test_an_interrupted_transcription_is_shown_with_its_progress(batch: tuple[Path, Store], media_dir: Path):
    recordings, store = batch
    shutil.copy(media_dir / "good.m4a", recordings / "second.m4a")
    (recordings / "second.m4a").write_bytes((recordings / "second.m4a").read_bytes() + b"")
    from pipeline.catalogue import Catalogue as C
    from pipeline.media import probe
    from pipeline.runner import transcribe_inputs
    from pipeline.store import fingerprint

    session = C().session_for(recordings / "second.m4a")
    inputs = fingerprint(transcribe_inputs(session, probe(recordings / "second.m4a").sha256, TranscriptionOptions(), ""))
    with store.checkpoint("second", "transcribe", inputs, 0) as save:
        save({"id": 0, "start": 0.0, "end": 3.0, "text": "Bonjour.", "words": []})
    second = by_id(session_status(store, Catalogue(), recordings))["second"]
    assert second.stages[0].state == "interrupted" and second.stages[0].detail.endswith("% transcribed")
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
    options = TranscriptionOptions(model=str(base.path))
    transcribe_recordings(find_recordings(recordings), Catalogue(), store, options, FakeTranscriber)
    assert by_id(session_status(store, Catalogue(), recordings, options))["good"].stages[0].state == "done"
    os.utime(base.path / "config.json", ns=(1, 1))  # the model folder was replaced
    assert by_id(session_status(store, Catalogue(), recordings, options))["good"].stages[0].state == "stale"
