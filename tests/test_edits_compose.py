"""The three editor channels — words (``transcript.txt``), voices (``speakers.toml``), the
synthesis (``synthesis.md``) — compose in any order and any combination: every edit applied,
none lost, ``verify`` quiet and ``status`` honest."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from pathlib import Path

import pytest

from pipeline import transcript as transcript_io
from pipeline.archive import verify
from pipeline.cli import _project, main
from pipeline.plan import speakers_fingerprint
from pipeline.speakers import Diarization, Turn, Voice, names_toml, to_json
from pipeline.store import Names, Store

from .conftest import ROOT

FIXTURE = Path(__file__).parent / "fixtures" / "transcript-sobriete-gouvernance.json"
LATER = ["--only", "transcript", "--only", "keywords", "--only", "synthesis", "--only", "publish", "--only", "archive"]
SPLIT = 46.0  # the moderator asks the first question, the guest answers from 46 s on


def voices() -> Diarization:
    return Diarization(
        session_id="s-1",
        turns=(Turn(0.0, SPLIT, "SPEAKER_1"), Turn(SPLIT, 100.0, "SPEAKER_2")),
        voices=(Voice("SPEAKER_1", SPLIT, 0.0, (1.0, 0.0, 0.0)), Voice("SPEAKER_2", 100.0 - SPLIT, SPLIT, (0.0, 1.0, 0.0))),
        names={"SPEAKER_1": "Intervenant 1", "SPEAKER_2": "Intervenant 2"},
    )


@pytest.fixture
def voiced(tmp_path: Path) -> tuple[Path, Store]:
    """One transcribed session with two voices told apart (no recording needed)."""
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    shutil.copy(ROOT / "recordings" / "themes.toml", recordings / "themes.toml")
    store = Store(tmp_path / "outputs")
    store.write_stage("s-1", "transcribe", "x", {Names.ASR: FIXTURE.read_text(encoding="utf-8")})
    found = voices()
    project = _project(recordings, store.root, {})
    files = {Names.SPEAKERS: to_json(found), Names.SPEAKER_NAMES: names_toml(found, {})}
    store.write_stage("s-1", "speakers", speakers_fingerprint(project, "s-1"), files)
    assert run(recordings, store) == 0
    return recordings, store


def run(recordings: Path, store: Store, *extra: str) -> int:
    return main(["run", "--recordings", str(recordings), "--outputs", str(store.root), *LATER, *extra])


def rename(store: Store) -> None:
    path = store.path("s-1", Names.SPEAKER_NAMES)
    path.write_text(path.read_text(encoding="utf-8").replace('SPEAKER_2 = "Intervenant 2"', 'SPEAKER_2 = "Inès Martin"'), encoding="utf-8")


def correct(store: Store) -> None:
    path = store.path("s-1", Names.TRANSCRIPT_TXT)
    path.write_text(path.read_text(encoding="utf-8").replace("floue", "très floue", 1), encoding="utf-8")


def retitle(store: Store) -> None:
    """A correction that changes a « Nom : » head: the last paragraph goes to the moderator."""
    path = store.path("s-1", Names.TRANSCRIPT_TXT)
    lines = path.read_text(encoding="utf-8").splitlines()
    last = max(i for i, line in enumerate(lines) if line.startswith("["))
    stamp, rest = lines[last].split("] ", 1)
    lines[last] = f"{stamp}] Camille Durand : {rest.split(' : ', 1)[-1]}"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def review(store: Store) -> None:
    path = store.path("s-1", Names.SYNTHESIS)
    path.write_text(path.read_text(encoding="utf-8").replace('status: "draft"', 'status: "review"', 1), encoding="utf-8")


EDITS = {"rename": rename, "correct": correct, "retitle": retitle, "review": review}


def check(recordings: Path, store: Store, done: set[str], capsys: pytest.CaptureFixture[str]) -> None:
    transcript = transcript_io.load(store.path("s-1", Names.TRANSCRIPT))
    names = {s.name for s in transcript.speakers}
    text = " ".join(s.text for s in transcript.segments)
    vtt = store.read_text("s-1", Names.TRANSCRIPT_VTT)
    page = (store.site_dir / "sessions" / "s-1" / "index.html").read_text(encoding="utf-8")
    if "rename" in done:
        assert "Inès Martin" in names and "Intervenant 2" not in names, names
        assert "<v Inès Martin>" in vtt and "Intervenant 2" not in vtt
        assert "Inès Martin" in page
    else:
        assert "Intervenant 2" in names
    if "correct" in done:
        assert "très floue" in text and "très floue" in page
    if "retitle" in done:
        last = transcript.segments[-1]
        assert {s.id: s.name for s in transcript.speakers}[last.speaker or ""] == "Camille Durand"
    if "review" in done:
        assert 'status: "review"' in store.read_text("s-1", Names.SYNTHESIS)
    assert [f for f in verify(store) if f.damage] == [] and verify(store) == []
    capsys.readouterr()
    assert main(["status", "--recordings", str(recordings), "--outputs", str(store.root), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    states = {st["stage"]: st["state"] for s in plan["sessions"] for st in s["stages"]}
    states.update({st["stage"]: st["state"] for st in plan["series"]})
    assert {stage: states[stage] for stage in ("transcript", "keywords", "synthesis", "publish")} == dict.fromkeys(
        ("transcript", "keywords", "synthesis", "publish"), "done"
    ), states


ORDERS = [order for n in (1, 2, 3) for order in itertools.permutations(["rename", "correct", "retitle"], n)]


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
@pytest.mark.parametrize("together", [False, True], ids=["run-each", "one-run"])
def test_edits_compose_in_any_order(voiced: tuple[Path, Store], capsys: pytest.CaptureFixture[str], order: tuple[str, ...], together: bool):
    recordings, store = voiced
    done: set[str] = set()
    for edit in order:
        EDITS[edit](store)
        done.add(edit)
        if not together:
            assert run(recordings, store) == 0
            check(recordings, store, done, capsys)
    if together:
        assert run(recordings, store) == 0
        check(recordings, store, done, capsys)


@pytest.mark.parametrize("follow", ["rerun", "--force", "themes changed", "corrected again"])
def test_every_channel_survives_what_follows(voiced: tuple[Path, Store], capsys: pytest.CaptureFixture[str], follow: str):
    recordings, store = voiced
    for edit in ("correct", "rename", "review"):
        EDITS[edit](store)
    assert run(recordings, store) == 0
    extra: list[str] = []
    if follow == "--force":
        extra = ["--force"]
    elif follow == "themes changed":
        themes = recordings / "themes.toml"
        themes.write_text(re.sub(r'(?m)^label = "Sobriété"', 'label = "Sobriété et frugalité"', themes.read_text(encoding="utf-8")))
    elif follow == "corrected again":
        path = store.path("s-1", Names.TRANSCRIPT_TXT)
        path.write_text(path.read_text(encoding="utf-8").replace("Euh bonjour", "Bonjour", 1), encoding="utf-8")
    assert run(recordings, store, *extra) == 0
    check(recordings, store, {"correct", "rename", "review"}, capsys)


def test_a_session_from_before_the_originals_were_kept_keeps_its_renames(voiced: tuple[Path, Store], capsys: pytest.CaptureFixture[str]):
    """Without the copy of the text the pipeline wrote, a head naming a voice by the name it
    had in the previous transcript still stays with that voice."""
    recordings, store = voiced
    shutil.rmtree(store.session_dir("s-1") / Names.ORIGINALS)
    correct(store)
    rename(store)
    assert run(recordings, store) == 0
    check(recordings, store, {"correct", "rename"}, capsys)


def test_the_pipeline_keeps_the_text_it_wrote_and_not_the_editors(voiced: tuple[Path, Store]):
    recordings, store = voiced
    written = store.read_text("s-1", Names.TRANSCRIPT_TXT)
    correct(store)
    assert run(recordings, store) == 0
    assert store.original("s-1", Names.TRANSCRIPT_TXT) == written != store.read_text("s-1", Names.TRANSCRIPT_TXT)
