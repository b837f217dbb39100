"""An editor corrects transcript.txt once; every output follows at the next run, the edit is
recorded, nothing of the editor's is rewritten, and `verify` tells edits from damage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.site.publish import read_search_index
from pipeline.store import Names, Store

from .test_editor_files import LATER, series  # noqa: F401 - the fixture

EVERYTHING = [*LATER, "--only", "publish"]


def run(recordings: Path, store: Store, *extra: str) -> int:
    return main(["run", "--recordings", str(recordings), "--outputs", str(store.root), *EVERYTHING, *extra])


def correct(store: Store, session: str, before: str, after: str) -> str:
    path = store.path(session, Names.TRANSCRIPT_TXT)
    text = path.read_text(encoding="utf-8")
    assert before in text
    path.write_text(text.replace(before, after), encoding="utf-8")
    return path.read_text(encoding="utf-8")


def test_a_correction_reaches_every_output_and_is_recorded_once(series: tuple[Path, Store], capsys: pytest.CaptureFixture[str]):  # noqa: F811
    recordings, store = series
    assert run(recordings, store) == 0
    keywords_before = store.sha256("s-1", Names.KEYWORDS)
    edited = correct(store, "s-1", "consommation énergétique des centres", "consommation électrique des centres")
    assert main(["verify", "--outputs", str(store.root)]) == 0, "an edit is not damage"
    capsys.readouterr()

    assert run(recordings, store) == 0
    transcript = json.loads(store.read_text("s-1", Names.TRANSCRIPT))
    text = " ".join(s["text"] for s in transcript["segments"])
    assert "consommation électrique des centres" in text and "énergétique des centres" not in text
    assert [c["rule"] for c in transcript["corrections"]] == ["editor"]
    for name in (Names.TRANSCRIPT_VTT, Names.TRANSCRIPT_SRT):
        assert "électrique" in store.read_text("s-1", name), name  # captions wrap their lines anywhere
    assert store.path("s-1", Names.TRANSCRIPT_TXT).read_text(encoding="utf-8") == edited, "the editor's file is never rewritten"
    assert not store.path("s-1", "transcript.draft.txt").exists()
    assert store.sha256("s-1", Names.KEYWORDS) != keywords_before, "keywords come from the corrected text"
    site = store.root / "site"
    page = next(site.glob("**/s-1/index.html")).read_text(encoding="utf-8")
    assert "consommation électrique des centres" in page
    assert "consommation électrique des centres" in " ".join(e["text"] for e in read_search_index(site))
    [event] = [e for e in store.events("s-1") if e["event"] == "corrected"]
    assert (event["words_changed"], event["words_replaced"], event["object"]) == (1, 1, Names.TRANSCRIPT_TXT)
    assert store.events("s-2") == []
    assert main(["verify", "--outputs", str(store.root)]) == 0
    assert "All files match their recorded checksums." in capsys.readouterr().err

    # a rerun, forced or not, changes nothing and records nothing more
    for extra in ((), ("--force",)):
        assert run(recordings, store, *extra) == 0
        assert store.path("s-1", Names.TRANSCRIPT_TXT).read_text(encoding="utf-8") == edited
        assert "électrique" in store.read_text("s-1", Names.TRANSCRIPT_VTT)
        assert len([e for e in store.events("s-1") if e["event"] == "corrected"]) == 1

    # every byte flip in a generated file is still caught
    vtt = store.path("s-1", Names.TRANSCRIPT_VTT)
    data = bytearray(vtt.read_bytes())
    data[len(data) // 2] ^= 0x01
    vtt.write_bytes(bytes(data))
    assert main(["verify", "--outputs", str(store.root)]) == 1
    assert f"{vtt}: altered" in capsys.readouterr().out


def test_a_second_correction_is_a_second_event_and_speaker_names_follow(series: tuple[Path, Store]):  # noqa: F811
    recordings, store = series
    correct(store, "s-2", "Euh bonjour à toutes", "Bonjour à toutes")
    assert run(recordings, store) == 0
    correct(store, "s-2", "gaz à effet de serre", "gaz à effet de serre (GES)")
    assert run(recordings, store) == 0
    events = [e for e in store.events("s-2") if e["event"] == "corrected"]
    assert [(e["words_removed"], e["words_inserted"]) for e in events] == [(1, 0), (0, 1)]
    transcript = json.loads(store.read_text("s-2", Names.TRANSCRIPT))
    assert transcript["segments"][0]["text"].startswith("Bonjour à toutes") and "(GES)" in json.dumps(transcript, ensure_ascii=False)


def test_a_corrected_transcript_that_cannot_be_read_is_one_line_and_the_other_sessions_go_on(
    series: tuple[Path, Store],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
):
    recordings, store = series
    store.path("s-1", Names.TRANSCRIPT_TXT).write_text("plus aucun repère temporel\n", encoding="utf-8")
    correct(store, "s-2", "Euh bonjour à toutes", "Bonjour à toutes")
    assert run(recordings, store) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{store.path('s-1', Names.TRANSCRIPT_TXT)}: line 1: no paragraph stamped [hh:mm:ss] was found" in " ".join(err.split())
    assert json.loads(store.read_text("s-2", Names.TRANSCRIPT))["segments"][0]["text"].startswith("Bonjour à toutes")
