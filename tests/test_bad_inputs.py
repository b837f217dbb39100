"""Every class of bad input, in one place: one line naming the file (and the line) and the fix,
no traceback, the rest of the batch done, and the exit status the README documents:

- 0: everything done (warnings may have been printed);
- 1: some steps failed (each one line), every other step done;
- 2: nothing could start: a catalogue, settings or editor file to fix first, or a wrong option;
- 3: a bug (one line, and ``--verbose`` shows the traceback).

Other classes are tested where their mechanism lives: unwritable, read-only and full outputs
and a held lock (test_runner), verify on a missing folder (test_fixity), names that are not
UTF-8 and warnings of ``pipeline check`` (test_check), a broken ``speakers.toml`` (test_speakers)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.store import Names, Store

from .conftest import ROOT, FakeTranscriber, ffmpeg
from .test_editor_files import LATER, NO_SPEAKERS, series  # noqa: F401 - the fixture


def lines_of(err: str) -> list[str]:
    assert "Traceback" not in err
    return [" ".join(line.split()) for line in err.splitlines() if line.strip().startswith(("error:", "✗"))]


def names_file_and_fix(line: str, path: Path) -> bool:
    """The line names the file and gives a fix, in parentheses."""
    return str(path) in line and re.search(r"\([^)]+\)", line.split(str(path), 1)[1]) is not None


# -- recordings: one bad file never stops the batch (exit 1) --------------------------------

RECORDINGS = {
    "empty.wav": "is empty",
    "notes.mp3": "not",  # text with a media name: not audio or video
    "random.flac": "not",
    "truncated.mp4": "truncated",
    "truncated-header.wav": "truncated",
    "video-only.mp4": "no audio",
    "silence.wav": "too short",
    "seance-collision.m4a": "maps to session id 'seance-collision', already used by Séance Collision.m4a",
    "deux\nlignes.mp3": "not",  # a line break in a name never splits the message
    "lien-casse.wav": "missing",  # a symbolic link whose target is gone
    "dossier.mp4": "not",  # a folder with a media name
}


@pytest.fixture
def fake_whisper(monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.cli as cli_module

    class FakeFactory:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def __call__(self) -> FakeTranscriber:
            return FakeTranscriber()

    monkeypatch.setattr(cli_module, "WhisperFactory", FakeFactory)


def test_every_bad_recording_is_one_line_and_the_good_ones_complete(
    tmp_path: Path, media_dir: Path, fake_whisper: None, capsys: pytest.CaptureFixture[str]
):
    folder = tmp_path / "recordings"
    folder.mkdir()
    shutil.copy(ROOT / "recordings" / "themes.toml", folder / "themes.toml")
    (folder / "pipeline.toml").write_text(NO_SPEAKERS, encoding="utf-8")
    for name in ("empty.wav", "notes.mp3", "truncated.mp4", "video-only.mp4", "silence.wav"):
        shutil.copy(media_dir / name, folder / name)
    (folder / "random.flac").write_bytes(os.urandom(4096))
    ffmpeg("-i", str(media_dir / "good.m4a"), str(tmp_path / "good.wav"))
    data = (tmp_path / "good.wav").read_bytes()
    (folder / "truncated-header.wav").write_bytes(data[: len(data) // 2])  # the header still says 6 s
    shutil.copy(media_dir / "good.m4a", folder / "Séance Collision.m4a")
    shutil.copy(media_dir / "good.m4a", folder / "seance-collision.m4a")
    (folder / "deux\nlignes.mp3").write_text("pas un son\n", encoding="utf-8")
    (folder / "lien-casse.wav").symlink_to(tmp_path / "gone.wav")
    (folder / "dossier.mp4").mkdir()
    shutil.copy(media_dir / "good.m4a", folder / "bonne.m4a")
    outputs = tmp_path / "outputs"
    assert main(["run", "--recordings", str(folder), "--outputs", str(outputs), "--only", "transcribe", "--only", "transcript"]) == 1
    lines = lines_of(capsys.readouterr().err)
    for name, reason in RECORDINGS.items():
        shown = " ".join(str(folder / name).replace("\n", " ").split())
        mine = [line for line in lines if shown in line and reason in line]
        assert mine and all(names_file_and_fix(line, Path(shown)) for line in mine), (name, lines)
    for session in ("bonne", "seance-collision"):  # the good ones: the first of the two colliding files
        assert (outputs / session / Names.TRANSCRIPT).exists(), session


# -- catalogue, settings and editor files read before any work (exit 2) --------------------

BEFORE_WORK = {
    "sessions.toml: invalid TOML": ("sessions.toml", '[[session]\ntitle = "x"\n', "invalid TOML"),
    "sessions.toml: a date that is not one": (
        "sessions.toml",
        '[[session]]\ntitle = "S"\nrecording = "a.mp4"\ndate = "17 mars"\n',
        "line 4",
    ),
    "sessions.toml: an unknown field": ("sessions.toml", '[[session]]\ntitle = "S"\nrecording = "a.mp4"\nsalle = "B"\n', "line 4"),
    "sessions.toml: an unsafe id": ("sessions.toml", '[[session]]\nid = "../x"\ntitle = "S"\nrecording = "a.mp4"\n', "line 2"),
    "sessions.toml: a path as recording": ("sessions.toml", '[[session]]\ntitle = "S"\nrecording = "../a.mp4"\n', "line 3"),
    "sessions.toml: a replay that is not a URL": (
        "sessions.toml",
        '[[session]]\ntitle = "S"\nrecording = "a.mp4"\nreplay_url = "youtube"\n',
        "line 4",
    ),
    "sessions.toml: a title missing": ("sessions.toml", '[[session]]\nrecording = "a.mp4"\n', "line 1"),
    "sessions.toml: a speaker without a name": (
        "sessions.toml",
        '[[session]]\ntitle = "S"\nrecording = "a.mp4"\nspeakers = [{ role = "x" }]\n',
        "line 4",
    ),
    "themes.toml: a reserved id": ("themes.toml", '[[theme]]\nid = "index"\nlabel = "Index"\n', "line 2"),
    "themes.toml: terms not a list": ("themes.toml", '[[theme]]\nid = "t"\nlabel = "T"\nterms = "a"\n', "line 4"),
    "pipeline.toml: a wrong type": ("pipeline.toml", '[transcription]\nbeam_size = "cinq"\n', "line 2"),
    "pipeline.toml: an unknown setting": ("pipeline.toml", "[keywords]\ntop = 5\n", "line 2"),
    "pipeline.toml: an unknown table": ("pipeline.toml", "[transcriptions]\nbeam_size = 5\n", "transcriptions"),
    "pipeline.toml: a value out of its choices": ("pipeline.toml", '[publish]\ndrafts = "cacher"\n', "line 1"),
    "glossary.toml: a term without text": ("glossary.toml", '[[term]]\nheard = ["x"]\n', "line 1"),
    "glossary.toml: an unknown field": ("glossary.toml", '[[term]]\ntext = "a"\nspelling = "b"\n', "line 3"),
    "keywords.toml: a list that is not one": ("keywords.toml", '[series]\nban = "données"\n', "line 2"),
    "keywords.toml: an unknown table": ("keywords.toml", '[serie]\nban = ["x"]\n', "line 1"),
    "a file that is not UTF-8": ("sessions.toml", "titre = \xe9\n", "UTF-8"),
    "sessions.toml: two sessions with one id": (
        "sessions.toml",
        '[[session]]\nid = "a"\ntitle = "S"\nrecording = "a.mp4"\n\n[[session]]\nid = "a"\ntitle = "T"\nrecording = "b.mp4"\n',
        "line 7",
    ),
    "themes.toml: one id twice": ("themes.toml", '[[theme]]\nid = "t"\nlabel = "T"\n\n[[theme]]\nid = "t"\nlabel = "U"\n', "twice"),
    "pipeline.toml: a number below its minimum": ("pipeline.toml", "[transcription]\nbeam_size = 0\n", "line 2"),
    "pipeline.toml: a negative number": ("pipeline.toml", "[speakers]\nmin_voice = -1.0\n", "line 2"),
    "pipeline.toml: an unknown voice encoder": ("pipeline.toml", '[speakers]\nencoder = "xvector"\n', "ge2e+campplus"),
    "pipeline.toml: voice windows no distance apart": ("pipeline.toml", "[speakers]\nwindow_hop = 0.0\n", "more than 0"),
}


@pytest.mark.parametrize("case", list(BEFORE_WORK))
def test_a_broken_file_read_before_any_work_is_one_line_and_exit_2(tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]):
    name, text, expected = BEFORE_WORK[case]
    folder = tmp_path / "recordings"
    folder.mkdir()
    if name != "themes.toml":
        shutil.copy(ROOT / "recordings" / "themes.toml", folder / "themes.toml")
    path = folder / name
    path.write_bytes(text.encode("latin-1") if case == "a file that is not UTF-8" else text.encode("utf-8"))
    for command in (["status"], ["run"], ["check"]):
        assert main([*command, "--recordings", str(folder), "--outputs", str(tmp_path / "outputs")]) == 2, command
        [line] = lines_of(capsys.readouterr().err)
        assert names_file_and_fix(line, path) and expected in line, line


# -- files editors change in outputs/ (exit 1, the other sessions go on) --------------------


def _break(store: Store, name: str, text: str | bytes) -> Path:
    path = store.path("s-1", name)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


IN_OUTPUTS = {
    "transcript.txt without stamps": (Names.TRANSCRIPT_TXT, "tout le texte, sans repère\n", "no paragraph stamped"),
    "transcript.txt with stamps out of order": (Names.TRANSCRIPT_TXT, "[00:00:09] B.\n\n[00:00:02] A.\n", "line 3"),
    "transcript.txt not UTF-8": (Names.TRANSCRIPT_TXT, b"[00:00:01] s\xe9ance\n", "UTF-8"),
    "synthesis.md with its front matter not closed": (Names.SYNTHESIS, "---\ntitle: x\n", "not closed"),
    "synthesis.md with invalid YAML": (Names.SYNTHESIS, "---\ntitle: [x\n---\nTexte\n", "line"),
    "synthesis.md with an unknown status": (Names.SYNTHESIS, "---\ntitle: x\nstatus: fini\n---\nTexte\n", "line 3"),
    "keywords.json broken by hand": (Names.KEYWORDS, '{"schema_version": 2, "keywords": [', "keywords.json"),
    "transcript.json broken by hand": (Names.TRANSCRIPT, '{"segments": 3}', "transcript.json"),
}


@pytest.mark.parametrize("case", list(IN_OUTPUTS))
def test_an_editor_file_broken_in_outputs_is_one_line_and_the_others_go_on(
    series: tuple[Path, Store],  # noqa: F811
    case: str,
    capsys: pytest.CaptureFixture[str],
):
    recordings, store = series
    arguments = ["--recordings", str(recordings), "--outputs", str(store.root), *LATER, "--only", "publish", "--only", "archive"]
    assert main(["run", *arguments]) == 0
    name, text, expected = IN_OUTPUTS[case]
    path = _break(store, name, text)
    (store.path("s-2", Names.TRANSCRIPT_TXT)).write_text(
        store.path("s-2", Names.TRANSCRIPT_TXT).read_text(encoding="utf-8").replace("Euh bonjour", "Bonjour", 1), encoding="utf-8"
    )
    capsys.readouterr()
    assert main(["run", *arguments]) == 1
    lines = lines_of(capsys.readouterr().err)
    assert lines and all(names_file_and_fix(line, path) for line in lines) and any(expected in line for line in lines), lines
    assert "Bonjour à toutes" in store.read_text("s-2", Names.TRANSCRIPT), "the other session's correction went through"
    assert (store.root / "site" / "sessions" / "s-2" / "index.html").exists()
