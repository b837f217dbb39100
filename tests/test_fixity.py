"""`verify` checks everything it claims: every byte flip and every deletion of a file the
pipeline recorded (session files, state.json, the site, the bags with their tag manifests and
bag-info.txt), whole sessions and bags removed; no false alarm on untouched or edited outputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.archive import verify
from pipeline.cli import main
from pipeline.store import Names, Store

from .test_editor_files import LATER, series  # noqa: F401 - the fixture


@pytest.fixture
def outputs(series: tuple[Path, Store]) -> Store:  # noqa: F811
    recordings, store = series
    arguments = ["--recordings", str(recordings), "--outputs", str(store.root)]
    assert main(["run", *arguments, *LATER, "--only", "publish", "--only", "archive"]) == 0
    return store


def recorded_files(store: Store) -> list[Path]:
    """Every file verify answers for."""
    files = []
    for session in store.sessions_with(Names.STATE):
        files.append(store.path(session, Names.STATE))
        for record in store.state(session).stages.values():
            files += [store.path(session, name) for name in record.files]
        files += [p for p in store.bag_dir(session).rglob("*") if p.is_file()]
    files += [store.site_dir / name for name in store.series_state()["publish"].facts["files"]]
    return sorted(set(files))


def test_every_flip_and_every_deletion_is_reported_and_nothing_else(outputs: Store):
    store = outputs
    assert verify(store) == []
    files = recorded_files(store)
    assert len(files) > 60
    missed_flips, missed_deletions = [], []
    for path in files:
        original = path.read_bytes()
        flipped = bytearray(original)
        flipped[len(flipped) // 2] ^= 0x01
        path.write_bytes(bytes(flipped))
        found = verify(store)
        # a file editors are invited to edit is listed as an edit to apply, the others as damage
        if not [f for f in found if f.damage or (path.name in Names.EDITABLE and f.path == path)]:
            missed_flips.append(path)
        path.unlink()
        if not [f for f in verify(store) if f.damage]:
            missed_deletions.append(path)
        path.write_bytes(original)
    assert missed_flips == [] and missed_deletions == []
    assert verify(store) == [], "everything restored: no false alarm"


def test_whole_sessions_and_bags_removed_and_sealed_bag_metadata_are_noticed(outputs: Store, capsys: pytest.CaptureFixture[str]):
    store = outputs
    bag = store.bag_dir("s-1")
    for tags in bag.glob("tagmanifest-*.txt"):
        tags.unlink()
    (bag / "bag-info.txt").write_text((bag / "bag-info.txt").read_text(encoding="utf-8") + "DC-Title: autre\n", encoding="utf-8")
    shutil.rmtree(store.bag_dir("s-2"))
    problems = {f.path: f.problem for f in verify(store)}
    assert problems[bag / "tagmanifest-sha256.txt"].startswith("missing from the bag")
    assert problems[store.bag_dir("s-2")] == "missing: the session's bag is gone"
    shutil.rmtree(store.session_dir("s-2"))
    assert verify(store)[-1:] and any(f.path == store.session_dir("s-2") for f in verify(store))
    assert main(["verify", "--outputs", str(store.root / "absent")]) == 1
    assert "absent: is not a folder: nothing to verify" in capsys.readouterr().out


def test_an_edited_synthesis_and_a_corrected_transcript_are_not_damage(outputs: Store, series: tuple[Path, Store]):  # noqa: F811
    store = outputs
    for name, before, after in ((Names.SYNTHESIS, 'status: "draft"', 'status: "review"'), (Names.TRANSCRIPT_TXT, "Euh bonjour", "Bonjour")):
        path = store.path("s-1", name)
        assert before in path.read_text(encoding="utf-8")
        path.write_text(path.read_text(encoding="utf-8").replace(before, after), encoding="utf-8")
    assert [f for f in verify(store) if f.damage] == []
    recordings, _ = series
    assert (
        main(["run", "--recordings", str(recordings), "--outputs", str(store.root), *LATER, "--only", "publish", "--only", "archive"]) == 0
    )
    assert verify(store) == [], "applied and recorded"


def test_publish_and_archive_killed_while_staging_leave_nothing_after_the_next_run(outputs: Store, series: tuple[Path, Store]):  # noqa: F811
    import signal
    import subprocess
    import sys
    import time

    from .conftest import ROOT

    recordings, store = series
    arguments = ["--recordings", str(recordings), "--outputs", str(store.root), "--force"]
    killed = 0
    for command, folder in ((["publish"], store.root), (["archive"], store.archive_dir), (["publish"], store.root)):
        victim = subprocess.Popen(
            [sys.executable, "-m", "pipeline", *command, *arguments], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while victim.poll() is None and time.monotonic() < deadline and not list(folder.glob(".staging-*")):
            time.sleep(0.005)
        if victim.poll() is None:
            victim.send_signal(signal.SIGKILL)
            killed += 1
        victim.wait()
    assert killed >= 2, "killed while staging"
    assert main(["run", *arguments[:4], *LATER, "--only", "publish", "--only", "archive"]) == 0
    assert not list(store.root.glob(".staging-*")) and not list(store.archive_dir.glob(".staging-*"))
    assert (store.site_dir / "index.html").exists() and verify(store) == []


def test_a_bag_whose_declaration_is_damaged_is_reported_not_a_crash(tmp_path: Path):
    """bagit refuses to open a bag whose bagit.txt names an unknown encoding (one flipped
    byte in « UTF-8 »); verify used to crash there on an unbound name."""
    import bagit

    from pipeline.archive import _validate_bag

    bag_dir = tmp_path / "bag"
    bag_dir.mkdir()
    (bag_dir / "transcript.txt").write_text("Bonjour.\n", encoding="utf-8")
    bagit.make_bag(str(bag_dir), checksums=["sha256"])
    declaration = bag_dir / "bagit.txt"
    declaration.write_text(declaration.read_text(encoding="utf-8").replace("UTF-8", "UTF-9"), encoding="utf-8")
    findings = _validate_bag(bag_dir)
    assert [f.path for f in findings] == [bag_dir] and "not a valid bag" in findings[0].problem, findings
