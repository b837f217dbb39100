"""`pipeline check` (and the start of `pipeline run`): every problem of the catalogue and of the
recordings folder is one line naming the file (and line) and the fix; errors and warnings by a
stated rule; odd file names never crash a command."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipeline.cli import main

from .conftest import ROOT


@pytest.fixture
def folder(tmp_path: Path, media_dir: Path) -> Path:
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    shutil.copy(ROOT / "recordings" / "themes.toml", recordings / "themes.toml")
    shutil.copy(media_dir / "good.m4a", recordings / "Séance Collision.m4a")
    shutil.copy(media_dir / "good.m4a", recordings / "seance-collision.m4a")
    (recordings / "captation.avi.part").write_bytes(b"x")
    (recordings / "script.txt").write_text("notes\n", encoding="utf-8")
    (recordings / "sessions.toml").write_text(
        '\ufeff[[session]]\ntitle = "Absente"\nrecording = "absente.mp4"\nthemes = ["sobriete", "smart-city"]\n', encoding="utf-8"
    )
    return recordings


def test_check_lists_errors_then_warnings_each_on_one_line(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["check", "--recordings", str(folder), "--outputs", str(tmp_path / "outputs")]) == 1
    lines = [" ".join(line.split()) for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert "Traceback" not in "\n".join(lines)
    [collision] = [line for line in lines if line.startswith("✗")]
    assert "seance-collision.m4a: maps to session id 'seance-collision', already used by Séance Collision.m4a" in collision
    warnings = [line for line in lines if line.startswith("!")]
    sessions = folder / "sessions.toml"
    assert f"{sessions}: line 3: session 'absente': its recording absente.mp4 is not in {folder}" in warnings[0]
    assert f"{sessions}: line 4: session 'absente': theme 'smart-city' is not in themes.toml, it is ignored (use one of:" in warnings[1]
    assert f"{folder / 'captation.avi.part'}: is not a recording this pipeline reads (.part); it is ignored" in warnings[2]
    assert len(warnings) == 3, "a script beside the recordings is not a problem; a BOM in sessions.toml is accepted"
    assert lines[-1] == "1 error(s), 3 warning(s)."


def test_an_empty_theme_file_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "themes.toml").write_text("# rien\n", encoding="utf-8")
    assert main(["check", "--recordings", str(tmp_path), "--outputs", str(tmp_path / "out")]) == 0
    assert "themes.toml: has no [[theme]]: keywords will have no theme" in " ".join(capsys.readouterr().err.split())


@pytest.mark.skipif(os.name != "posix", reason="byte file names are a POSIX matter")
def test_a_file_name_that_is_not_utf8_never_crashes_a_command(tmp_path: Path, media_dir: Path, capsys: pytest.CaptureFixture[str]):
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    name = os.fsdecode(b"s\xe9ance latin-1.m4a")  # Latin-1 bytes: not UTF-8
    shutil.copy(media_dir / "good.m4a", recordings / name)
    (recordings / os.fsdecode(b"notes \xe9t\xe9.xyz")).write_bytes(b"x")
    arguments = ["--recordings", str(recordings), "--outputs", str(tmp_path / "outputs")]
    assert main(["check", *arguments]) == 0
    assert main(["status", *arguments]) == 0
    assert main(["status", "--json", *arguments]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    assert "s\ufffdance latin-1.m4a" in out.err, "shown with a replacement character"


@pytest.mark.skipif(os.name != "posix", reason="byte file names are a POSIX matter")
def test_a_recording_whose_name_is_not_utf8_is_transcribed_and_published(tmp_path: Path, media_dir: Path, fake_transcriber):
    from pipeline import transcript as transcript_io
    from pipeline.catalogue import Catalogue
    from pipeline.runner import transcribe_recordings
    from pipeline.store import Store
    from pipeline.transcribe import TranscriptionOptions

    recordings = tmp_path / "recordings"
    recordings.mkdir()
    shutil.copy(ROOT / "recordings" / "themes.toml", recordings / "themes.toml")
    (recordings / "pipeline.toml").write_text("[speakers]\nenabled = false\n", encoding="utf-8")
    path = recordings / os.fsdecode(b"s\xe9ance.m4a")
    shutil.copy(media_dir / "good.m4a", path)
    store = Store(tmp_path / "outputs")
    report = transcribe_recordings([path], Catalogue(), store, TranscriptionOptions(), lambda: fake_transcriber)
    assert not report.failed
    [session] = store.sessions_with("transcript.json")
    assert transcript_io.load(store.path(session, "transcript.json")).provenance.input_name == "s\ufffdance.m4a"
    arguments = ["--recordings", str(recordings), "--outputs", str(store.root)]
    assert main(["run", *arguments, "--only", "keywords", "--only", "synthesis", "--only", "publish", "--only", "archive"]) == 0
    assert (store.root / "site" / "sessions" / session / "index.html").exists()
    assert main(["verify", "--outputs", str(store.root)]) == 0
