"""Every file an editor touches, broken by hand, gives one line naming the file, the line and
the fix; never a traceback, and the other sessions are not held back."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.store import Names, Store, atomic_write

from .conftest import ROOT

FIXTURE = Path(__file__).parent / "fixtures" / "transcript-sobriete-gouvernance.json"


@pytest.fixture
def series(tmp_path: Path) -> tuple[Path, Store]:
    """Two transcribed sessions (no recording needed), keywords and drafts made."""
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    shutil.copy(ROOT / "recordings" / "themes.toml", recordings / "themes.toml")
    (recordings / "pipeline.toml").write_text(NO_SPEAKERS, encoding="utf-8")
    store = Store(tmp_path / "outputs")
    for session in ("s-1", "s-2"):
        store.write_stage(session, "transcribe", "x", {Names.ASR: FIXTURE.read_text(encoding="utf-8")})
    assert main(["run", "--recordings", str(recordings), "--outputs", str(store.root), *LATER]) == 0
    return recordings, store


LATER = ["--only", "transcript", "--only", "keywords", "--only", "synthesis"]
NO_SPEAKERS = "[speakers]\nenabled = false  # these sessions have no recording to tell voices apart\n"


def one_line_errors(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line.strip() for line in err.splitlines() if line.strip().startswith(("error:", "✗"))]


TOML_CASES = {
    "sessions.toml": (
        '[[session]]\ntitle = "Séance"\nrecording = "a.mp4"\ndate = "17 mars"\n',
        r"line 4: session #1, field 'date'.*\(write date = 2022-03-17\)",
    ),
    "themes.toml": (
        '[[theme]]\nid = "index"\nlabel = "Index"\n',
        r"line 2: theme #1, field 'id': 'index' is reserved.*\(choose another id",
    ),
    "glossary.toml": (
        '[[term]]\ntext = "commande publique"\nheard = "umache"\n\n[[term]]\nheard = ["x"]\n',
        r"line 5: term #2 has no text \(write text = ",
    ),
    "keywords.toml": (
        '[sessions.s-1]\npin = ["capteurs"]\nban = "données"\n',
        r"line 3: \[sessions.s-1\] ban must be a list of texts \(write ban = ",
    ),
    "pipeline.toml": (
        '[transcription]\nbeam_size = "cinq"\n',
        r"line 2: \[transcription\] beam_size = 'cinq' is not a int \(write beam_size = 5\)",
    ),
}


@pytest.mark.parametrize("name", list(TOML_CASES))
def test_a_broken_catalogue_or_settings_file_is_one_line(series: tuple[Path, Store], capsys: pytest.CaptureFixture[str], name: str):
    recordings, store = series
    text, expected = TOML_CASES[name]
    (recordings / name).write_text(text, encoding="utf-8")
    assert main(["status", "--recordings", str(recordings), "--outputs", str(store.root)]) == 2
    [line] = one_line_errors(capsys.readouterr().err)
    assert str(recordings / name) in line and re.search(expected, line), line


def test_an_unknown_setting_names_the_line_and_the_choices(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "pipeline.toml").write_text("[keywords]\ntop_n = 20\ntop = 10\n", encoding="utf-8")
    assert main(["status", "--recordings", str(tmp_path), "--outputs", str(tmp_path / "out")]) == 2
    [line] = one_line_errors(capsys.readouterr().err)
    assert "pipeline.toml: line 3: [keywords] has no setting 'top' (use one of:" in line and "top_n" in line


def test_settings_persist_so_status_and_run_agree(series: tuple[Path, Store], capsys: pytest.CaptureFixture[str]):
    recordings, store = series
    (recordings / "pipeline.toml").write_text(NO_SPEAKERS + "[keywords]\ntop_n = 5\n", encoding="utf-8")
    assert main(["status", "--recordings", str(recordings), "--outputs", str(store.root)]) == 0
    assert "keywords" in capsys.readouterr().err.split("next run")[-1]
    assert main(["run", "--recordings", str(recordings), "--outputs", str(store.root), *LATER]) == 0
    from pipeline import keywords as keywords_io

    assert len(keywords_io.load(store.path("s-1", Names.KEYWORDS)).keywords) == 5
    assert main(["status", "--recordings", str(recordings), "--outputs", str(store.root), "--json"]) == 0
    import json

    plan = json.loads(capsys.readouterr().out)
    assert {stage["state"] for s in plan["sessions"] for stage in s["stages"] if stage["stage"] == "keywords"} == {"done"}


BROKEN_OUTPUTS = {
    "keywords.json": (
        Names.KEYWORDS,
        lambda text: text[:200],
        ("synthesis",),
        r"keywords\.json: line \d+: not valid JSON .*\(fix the JSON syntax there, or delete the file and run again\)",
    ),
    "asr.json": (
        Names.ASR,
        lambda text: text.replace('"segments"', '"segmentz"'),
        ("transcript",),
        r"asr\.json: transcript does not match schema",
    ),
    "synthesis front matter": (
        Names.SYNTHESIS,
        lambda text: text.replace("title:", "title: [", 1),
        ("publish",),
        r"synthesis\.md: line 2: front matter is not valid YAML .*\(fix that line between the two '---'\)",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_OUTPUTS))
def test_a_hand_broken_output_is_one_line_and_the_other_session_goes_on(
    series: tuple[Path, Store], capsys: pytest.CaptureFixture[str], case: str
):
    recordings, store = series
    name, damage, stages, expected = BROKEN_OUTPUTS[case]
    path = store.path("s-2", name)
    atomic_write(path, damage(path.read_text(encoding="utf-8")).encode())
    capsys.readouterr()
    arguments = ["run", "--recordings", str(recordings), "--outputs", str(store.root), "--force"]
    for stage in stages:
        arguments += ["--only", stage]
    assert main(arguments) == 1
    lines = one_line_errors(capsys.readouterr().err)
    assert lines and all(str(path) in line for line in lines), lines
    assert re.search(expected, lines[0]), lines[0]
    if "publish" in stages:
        assert (store.site_dir / "sessions" / "s-1" / "index.html").exists() and not (store.site_dir / "sessions" / "s-2").exists()


def test_a_hand_broken_state_file_only_costs_a_rerun(series: tuple[Path, Store]):
    recordings, store = series
    store.path("s-1", Names.STATE).write_text("{ pas du json", encoding="utf-8")
    assert main(["run", "--recordings", str(recordings), "--outputs", str(store.root), *LATER]) == 0
    assert store.state("s-1").stages["keywords"].inputs
