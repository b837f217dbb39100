from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline.archive import archive_session, verify
from pipeline.catalogue import Catalogue, Session, Speaker, load_themes
from pipeline.cli import main
from pipeline.plan import Project
from pipeline.runner import execute
from pipeline.settings import Settings
from pipeline.store import Store, atomic_write

from .conftest import ROOT, SAMPLE

FIXTURE = Path(__file__).parent / "fixtures" / "transcript-sobriete-gouvernance.json"
SESSION = Session(
    id="s-archive",
    title="Sobriété numérique et gouvernance des données",
    recording="seance.mp4",
    number=3,
    date="2022-04-21",
    speakers=(Speaker("Camille Durand", "Modératrice"), Speaker("Inès Martin", "Chercheuse")),
    replay_url="https://replay.example.org/3",
)


@pytest.fixture
def archived(tmp_path: Path, nlp) -> tuple[Store, Path]:
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    (recordings / "seance.mp4").write_bytes(SAMPLE.read_bytes())
    store = Store(tmp_path / "outputs")
    catalogue = Catalogue(sessions=(SESSION,), themes=load_themes(ROOT / "recordings" / "themes.toml"))
    store.write_stage(SESSION.id, "transcribe", "x", {"transcript.json": FIXTURE.read_text(encoding="utf-8"), "transcript.txt": "texte\n"})
    project = Project(recordings, catalogue, Settings(), store)
    execute(project, ("keywords",), load_nlp=lambda: nlp)
    execute(project, ("synthesis",))
    synthesis = store.path(SESSION.id, "synthesis.md")
    synthesis.write_text(synthesis.read_text(encoding="utf-8") + "\nRelu par l'éditrice.\n", encoding="utf-8")
    execute(project, ("synthesis",), force=True)  # records the editor's version
    return store, archive_session(store, catalogue, SESSION.id, recordings, with_media=True)


def test_bag_holds_payload_metadata_and_history(archived: tuple[Store, Path]):
    store, bag = archived
    data = bag / "data"
    assert sorted(p.name for p in data.iterdir()) == [
        "dc.xml",
        "events.jsonl",
        "keywords.json",
        "keywords.md",
        "media",
        "provenance.json",
        "recording.sha256",
        "synthesis.md",
        "transcript.json",
        "transcript.txt",
    ]
    assert (bag / "manifest-sha256.txt").exists() and (bag / "manifest-sha512.txt").exists()
    assert "Relu par l'éditrice." in (data / "synthesis.md").read_text(encoding="utf-8")
    ns = {"dc": "http://purl.org/dc/elements/1.1/"}
    dc = ET.parse(data / "dc.xml").getroot()
    assert dc.find("dc:title", ns).text == SESSION.title
    assert [e.text for e in dc.findall("dc:creator", ns)] == ["Camille Durand", "Inès Martin"]
    assert dc.find("dc:language", ns).text == "fr" and dc.find("dc:rights", ns).text
    assert "video/mp4" in [e.text for e in dc.findall("dc:format", ns)]
    info = (bag / "bag-info.txt").read_text(encoding="utf-8")
    assert (
        "DC-Title: Sobriété numérique et gouvernance des données" in info
        and "External-Identifier: urn:villes-numeriques:session:s-archive" in info
    )
    history = [json.loads(line)["event"] for line in (data / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    assert history == ["transcribed", "keywords", "drafted", "edited", "archived"]
    assert verify(store) == []


def test_verify_names_a_flipped_byte_and_a_missing_file(archived: tuple[Store, Path], capsys: pytest.CaptureFixture[str]):
    store, bag = archived
    target = bag / "data" / "transcript.json"
    content = bytearray(target.read_bytes())
    content[100] ^= 0x01
    target.write_bytes(bytes(content))
    (bag / "data" / "keywords.md").unlink()
    outputs_file = store.path(SESSION.id, "keywords.json")
    flipped = bytearray(outputs_file.read_bytes())
    flipped[-3] ^= 0x01
    outputs_file.write_bytes(bytes(flipped))
    edited = store.path(SESSION.id, "transcript.txt")
    edited.write_text(edited.read_text(encoding="utf-8") + "\n[01:00:00] Une phrase ajoutée.\n", encoding="utf-8")
    problems = {f.path.name: f for f in verify(store)}
    assert problems["transcript.json"].problem.startswith("altered: sha")
    assert problems["keywords.md"].problem == "missing from the bag"
    assert problems["keywords.json"].problem.startswith("altered since the keywords stage") and problems["keywords.json"].damage
    assert problems["transcript.txt"].problem.startswith("edited since the last run") and not problems["transcript.txt"].damage
    assert main(["verify", "--outputs", str(store.root)]) == 1
    out = capsys.readouterr().out
    assert f"{bag / 'data' / 'transcript.json'}: altered" in out and f"{outputs_file}: altered" in out


def test_an_editors_edit_is_not_damage(archived: tuple[Store, Path], capsys: pytest.CaptureFixture[str]):
    store, _ = archived
    edited = store.path(SESSION.id, "transcript.txt")
    edited.write_text("texte corrigé\n", encoding="utf-8")
    assert main(["verify", "--outputs", str(store.root)]) == 0
    assert "apart from 1 edit(s) not yet applied" in capsys.readouterr().err


def test_rearchiving_replaces_the_bag_whole(archived: tuple[Store, Path], tmp_path: Path):
    store, bag = archived
    catalogue = Catalogue(sessions=(SESSION,), themes=load_themes(ROOT / "recordings" / "themes.toml"))
    again = archive_session(store, catalogue, SESSION.id, tmp_path / "recordings", with_media=False)
    assert again == bag and not (bag / "data" / "media").exists()
    assert not [p for p in (store.root / "archive").iterdir() if p.name.startswith(".")]
    assert verify(store) == []


def test_archiving_without_a_transcript_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    atomic_write(Store(tmp_path / "out").path("vide", "notes.txt"), b"x")
    assert main(["archive", "vide", "--outputs", str(tmp_path / "out"), "--catalogue", str(tmp_path)]) == 1
    assert "transcript.json: no transcript to archive (run `pipeline run` first)" in capsys.readouterr().err
