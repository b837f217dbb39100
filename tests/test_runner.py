from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipeline import transcript as transcript_io
from pipeline.catalogue import Catalogue, load_catalogue
from pipeline.plan import find_recordings
from pipeline.runner import transcribe_recordings
from pipeline.store import Store, atomic_write
from pipeline.transcribe import EngineOptions, TranscriptionOptions

from .conftest import ROOT, FakeTranscriber

BAD = ["empty.wav", "notes.mp3", "truncated.mp4", "video-only.mp4", "silence.wav"]


def batch(tmp_path: Path, media_dir: Path) -> Path:
    folder = tmp_path / "recordings"
    folder.mkdir()
    for name in BAD:
        shutil.copy(media_dir / name, folder / name)
    shutil.copy(media_dir / "good.m4a", folder / 'Séance « n°2 » l\'atelier "final".m4a')
    return folder


def test_bad_recordings_are_reported_and_the_good_one_completes(tmp_path: Path, media_dir: Path, fake_transcriber: FakeTranscriber):
    folder = batch(tmp_path, media_dir)
    store = Store(tmp_path / "outputs")
    report = transcribe_recordings(find_recordings(folder), Catalogue(), store, TranscriptionOptions(), lambda: fake_transcriber)
    assert len([r for r in report.results if r.stage == "transcribe"]) == 6
    assert sorted(r.recording.name for r in report.failed) == sorted(BAD)
    for failure in report.failed:
        assert failure.error.startswith(str(failure.recording)) and "\n" not in failure.error
    [good] = [r for r in report.results if r.status == "transcribed"]
    assert good.session_id == "seance-n2-l-atelier-final"
    session_dir = store.session_dir(good.session_id)
    assert sorted(p.name for p in session_dir.iterdir()) == [
        ".written",  # the editable files as the pipeline wrote them (the base of an edit)
        "asr.json",
        "review.md",
        "speakers.json",
        "speakers.toml",
        "state.json",
        "transcript.json",
        "transcript.srt",
        "transcript.txt",
        "transcript.vtt",
    ]
    assert sorted(p.name for p in (session_dir / ".written").iterdir()) == ["speakers.toml", "transcript.txt"]
    assert {r.stage for r in report.results} == {"transcribe", "speakers", "transcript"}
    loaded = transcript_io.load(session_dir / "transcript.json")
    assert loaded.provenance.input_name == 'Séance « n°2 » l\'atelier "final".m4a'
    assert len(fake_transcriber.calls) == 1


def test_unchanged_recording_is_not_transcribed_twice_and_force_redoes_it(tmp_path: Path, media_dir: Path):
    fake = FakeTranscriber()
    store = Store(tmp_path / "outputs")
    recordings = [media_dir / "good.m4a"]
    catalogue = load_catalogue(ROOT / "recordings")
    first = transcribe_recordings(recordings, catalogue, store, TranscriptionOptions(), lambda: fake)
    second = transcribe_recordings(recordings, catalogue, store, TranscriptionOptions(), lambda: fake)
    assert [r.status for r in first.results + second.results if r.stage != "speakers"] == [
        "transcribed",
        "composed",
        "up to date",
        "up to date",
    ]
    changed = transcribe_recordings(recordings, catalogue, store, TranscriptionOptions(beam_size=1), lambda: fake)
    forced = transcribe_recordings(recordings, catalogue, store, TranscriptionOptions(beam_size=1), lambda: fake, force=True)
    assert [changed.results[0].status, forced.results[0].status] == ["transcribed", "transcribed"]
    assert len(fake.calls) == 3


def test_an_editors_changes_are_never_overwritten(tmp_path: Path, media_dir: Path):
    store = Store(tmp_path / "outputs")
    recordings = [media_dir / "good.m4a"]
    transcribe_recordings(recordings, Catalogue(), store, TranscriptionOptions(), FakeTranscriber)
    txt = store.session_dir("good") / "transcript.txt"
    edited = txt.read_text(encoding="utf-8").replace("Bonjour", "Bonjour (corrigé)")
    txt.write_text(edited, encoding="utf-8")
    transcribe_recordings(recordings, Catalogue(), store, TranscriptionOptions(), FakeTranscriber, force=True)
    assert txt.read_text(encoding="utf-8") == edited
    assert not (store.session_dir("good") / "transcript.draft.txt").exists(), "the correction is applied, not set aside"
    assert "Bonjour (corrigé)" in transcript_io.load(store.session_dir("good") / "transcript.json").text
    # a third run, transcribing again, still reads the editor's file as the text
    transcribe_recordings(recordings, Catalogue(), store, TranscriptionOptions(beam_size=1), FakeTranscriber, force=True)
    assert txt.read_text(encoding="utf-8") == edited
    assert "Bonjour (corrigé)" in transcript_io.load(store.session_dir("good") / "transcript.json").text


def test_a_crash_during_a_write_leaves_the_old_file_whole_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "transcript.json"
    atomic_write(target, b"old complete content")

    def crash(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        atomic_write(target, b"new content that never lands")
    assert target.read_bytes() == b"old complete content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["transcript.json"]


def test_disk_full_during_a_stage_is_one_clear_failure(tmp_path: Path, media_dir: Path, monkeypatch: pytest.MonkeyPatch):
    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    report = transcribe_recordings([media_dir / "good.m4a"], Catalogue(), Store(tmp_path / "out"), TranscriptionOptions(), FakeTranscriber)
    [result] = report.failed
    assert "cannot write outputs (No space left on device)" in result.error and "free disk space" in result.error


def test_session_ids_cannot_escape_outputs(tmp_path: Path):
    from pipeline.errors import OutputError

    with pytest.raises(OutputError, match="unsafe session id"):
        Store(tmp_path).session_dir("../etc")


def test_outputs_are_readable_by_others(tmp_path: Path):
    target = tmp_path / "x.txt"
    atomic_write(target, b"x")
    assert target.stat().st_mode & 0o044 == 0o044 or os.umask(0o022) & 0o044


WRITER = """
import sys
from pathlib import Path
from pipeline.store import Store
store, n = Store(Path(sys.argv[1])), 0
while True:
    letter = "AB"[n % 2]
    store.write_stage("s", "transcribe", letter, {"transcript.json": letter * 3_000_000, "transcript.vtt": letter * 1_000_000})
    n += 1
"""


def test_sigkill_at_any_moment_leaves_complete_files_and_a_rerun_leaves_no_temporary(tmp_path: Path):
    import json
    import random
    import subprocess
    import sys
    import time

    store = Store(tmp_path / "outputs")
    rng = random.Random(7)
    for _ in range(8):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(store.root)], cwd=ROOT)
        deadline = time.monotonic() + 20
        while not store.path("s", "transcript.vtt").exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # the first complete write has landed: now kill at a random moment
        time.sleep(rng.uniform(0.0, 0.3))
        writer.kill()
        writer.wait()
        folder = store.session_dir("s")
        for name, size in (("transcript.json", 3_000_000), ("transcript.vtt", 1_000_000)):
            content = (folder / name).read_text()
            assert content in ("A" * size, "B" * size), f"{name} is partial: {len(content)} characters"
        json.loads((folder / "state.json").read_text())
    store.write_stage("s", "transcribe", "C", {"transcript.json": "C", "transcript.vtt": "C"})
    assert not list(store.session_dir("s").glob(".*.tmp"))


def test_a_crash_between_a_file_and_the_state_is_not_taken_for_an_edit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import pipeline.store as store_module

    store = Store(tmp_path / "outputs")
    store.write_stage("s", "transcribe", "1", {"transcript.txt": "first"})
    real_write = store_module.atomic_write
    calls = []

    def die_before_final_state(path: Path, data: bytes) -> None:
        calls.append(path.name)
        if path.name == "state.json" and calls.count("state.json") == 2:
            raise KeyboardInterrupt  # the process dies after the file, before its record
        real_write(path, data)

    monkeypatch.setattr(store_module, "atomic_write", die_before_final_state)
    with pytest.raises(KeyboardInterrupt):
        store.write_stage("s", "transcribe", "2", {"transcript.txt": "second"})
    monkeypatch.setattr(store_module, "atomic_write", real_write)
    assert store.path("s", "transcript.txt").read_text() == "second"
    [written] = store.write_stage("s", "transcribe", "3", {"transcript.txt": "third"})
    assert not written.kept_edit and store.path("s", "transcript.txt").read_text() == "third"
    assert not store.path("s", "transcript.draft.txt").exists()


HOLDER = """
import sys, time
from pathlib import Path
from pipeline.store import Store
with Store(Path(sys.argv[1])).lock():
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_second_run_on_the_same_outputs_is_refused_clearly_or_waits(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    import subprocess
    import sys
    import time

    from pipeline.cli import main

    outputs = tmp_path / "outputs"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(outputs), "3"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    status = main(["publish", "--outputs", str(outputs), "--catalogue", str(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err
    assert f"{outputs}: is in use by pipeline pid {holder.pid}" in err and "--wait" in err
    started = time.monotonic()
    assert main(["publish", "--outputs", str(outputs), "--catalogue", str(tmp_path), "--wait"]) == 0
    assert time.monotonic() - started > 1.0, "it waited for the first run"
    holder.wait()


def test_concurrent_writers_under_the_lock_leave_consistent_state(tmp_path: Path):
    import json
    import subprocess
    import sys

    script = """
import sys
from pathlib import Path
from pipeline.store import Store
store = Store(Path(sys.argv[1]))
for n in range(30):
    with store.lock(wait=True):
        store.write_stage("s", "transcribe", sys.argv[2] + str(n), {"transcript.txt": sys.argv[2] * 100_000})
"""
    writers = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "out"), letter], cwd=ROOT) for letter in "AB"]
    assert [w.wait() for w in writers] == [0, 0]
    store = Store(tmp_path / "out")
    state = json.loads(store.path("s", "state.json").read_text())
    content = store.path("s", "transcript.txt").read_text()
    assert content in ("A" * 100_000, "B" * 100_000)
    assert state["stages"]["transcribe"]["files"]["transcript.txt"] == store.sha256("s", "transcript.txt")
    assert not store.path("s", "transcript.draft.txt").exists()


def test_a_recording_replaced_during_transcription_is_refused_and_nothing_written(tmp_path: Path, media_dir: Path):
    recording = tmp_path / "seance.m4a"
    shutil.copy(media_dir / "good.m4a", recording)

    class Replacing(FakeTranscriber):
        def decode(self, audio):
            recording.write_bytes(recording.read_bytes()[:-1000])  # a new copy lands meanwhile
            return super().decode(audio)

    store = Store(tmp_path / "outputs")
    report = transcribe_recordings([recording], Catalogue(), store, TranscriptionOptions(), Replacing)
    [failure] = report.failed
    assert failure.error == f"{recording}: was replaced or changed while it was being transcribed (run again once the copy is complete)"
    assert not store.path("seance", "transcript.json").exists()


@pytest.mark.parametrize(("errno_code", "text"), [(13, "Permission denied"), (30, "Read-only file system")])
def test_unwritable_outputs_give_one_clear_line(
    tmp_path: Path, media_dir: Path, monkeypatch: pytest.MonkeyPatch, errno_code: int, text: str
):
    def refuse(*args: object) -> None:
        raise OSError(errno_code, text, str(tmp_path / "outputs"))

    monkeypatch.setattr(os, "replace", refuse)
    report = transcribe_recordings(
        [media_dir / "good.m4a"], Catalogue(), Store(tmp_path / "outputs"), TranscriptionOptions(), FakeTranscriber
    )
    [failure] = report.failed
    assert (
        failure.error
        == f"{tmp_path / 'outputs'}: cannot write outputs ({text}) (free disk space or fix the folder's permissions, then run again)"
    )


def test_run_only_one_stage_of_one_session_loads_no_whisper(tmp_path: Path, media_dir: Path, monkeypatch: pytest.MonkeyPatch):
    import pipeline.cli as cli_module
    from pipeline.cli import main

    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for name in ("s-1.m4a", "s-2.m4a"):
        shutil.copy(media_dir / "good.m4a", recordings / name)
    shutil.copy(ROOT / "recordings" / "themes.toml", recordings / "themes.toml")
    store = Store(tmp_path / "outputs")
    fixture = (Path(__file__).parent / "fixtures" / "transcript-sobriete-gouvernance.json").read_bytes()
    for session in ("s-1", "s-2"):
        atomic_write(store.path(session, "transcript.json"), fixture)

    def no_whisper(*args: object, **kwargs: object) -> None:
        raise AssertionError("Whisper must not load for --only keywords")

    monkeypatch.setattr(cli_module, "WhisperFactory", no_whisper)
    status = main(["run", "--recordings", str(recordings), "--outputs", str(store.root), "--only", "keywords", "--session", "s-1"])
    assert status == 0
    assert store.path("s-1", "keywords.json").exists() and not store.path("s-2", "keywords.json").exists()
    assert not store.path("s-1", "synthesis.md").exists() and not (store.root / "site").exists()
    assert main(["run", "--recordings", str(recordings), "--outputs", str(store.root), "--session", "nope"]) == 2


@pytest.mark.parametrize("mode", ["jobs", "dask"])
def test_parallel_and_dask_runs_use_the_same_jobs(tmp_path: Path, media_dir: Path, mode: str):
    recordings = []
    for name in ("a", "b", "c"):
        shutil.copy(media_dir / "good.m4a", tmp_path / f"{name}.m4a")
        recordings.append(tmp_path / f"{name}.m4a")
    shutil.copy(media_dir / "notes.mp3", tmp_path / "notes.mp3")
    recordings.append(tmp_path / "notes.mp3")
    store = Store(tmp_path / "outputs")
    if mode == "jobs":
        report = transcribe_recordings(
            recordings, Catalogue(), store, TranscriptionOptions(), FakeTranscriber, engine=EngineOptions(jobs=2)
        )
    else:
        distributed = pytest.importorskip("dask.distributed")
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            report = transcribe_recordings(
                recordings,
                Catalogue(),
                store,
                TranscriptionOptions(),
                FakeTranscriber,
                engine=EngineOptions(scheduler=cluster.scheduler_address),
            )
    assert sorted((r.session_id, r.status) for r in report.results if r.stage == "transcribe") == [
        ("a", "transcribed"),
        ("b", "transcribed"),
        ("c", "transcribed"),
        ("notes", "failed"),
    ]
    assert all(store.path(s, "transcript.json").exists() for s in "abc")


def test_threads_are_shared_out_between_jobs():
    from pipeline.transcribe import threads_per_job

    assert threads_per_job(EngineOptions(jobs=1)).cpu_threads == 0
    shared = threads_per_job(EngineOptions(jobs=2)).cpu_threads
    assert shared == max(1, len(os.sched_getaffinity(0)) // 2)
    assert threads_per_job(EngineOptions(cpu_threads=3, jobs=2)).cpu_threads == 3


def test_the_speakers_stage_takes_the_samples_the_transcription_decoded(
    tmp_path: Path, media_dir: Path, monkeypatch: pytest.MonkeyPatch, fake_transcriber: FakeTranscriber
):
    """In one run the recording is decoded once: the speakers stage gets the transcription's
    16-bit samples, the very ones it decodes itself when it runs alone, and gives the same voices."""
    import numpy as np

    import pipeline.steps.speakers as speakers_step
    from pipeline.media import decode, probe
    from pipeline.project import Project
    from pipeline.runner import execute
    from pipeline.settings import Settings

    recordings = tmp_path / "recordings"
    recordings.mkdir()
    shutil.copy(media_dir / "good.m4a", recordings / "seance.m4a")
    store = Store(tmp_path / "outputs")
    project = Project(recordings, Catalogue(), Settings(), store, (recordings / "seance.m4a",))
    decodes: list[object] = []
    monkeypatch.setattr(speakers_step, "decode", lambda *args, **kwargs: decodes.append(1) or decode(*args, **kwargs))
    heard: list[np.ndarray] = []

    class Encoder:
        def embed_pieces(
            self, audio: np.ndarray, pieces: list[tuple[float, float]], options: object, progress: object = None
        ) -> np.ndarray:
            heard.append(audio.copy())
            vectors = np.random.default_rng(len(pieces)).normal(size=(len(pieces), 8))
            return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def run(stages: tuple[str, ...]) -> str:
        execute(project, stages, force=True, make_transcriber=lambda: fake_transcriber, load_encoder=lambda name: Encoder())
        return store.path("seance", "speakers.json").read_text(encoding="utf-8")

    together = run(("transcribe", "speakers"))
    assert decodes == [] and len(heard) == 1, "the speakers stage did not decode the recording again"
    alone = run(("speakers",))
    assert decodes == [1] and len(heard) == 2
    assert heard[0].dtype == np.int16 and np.array_equal(heard[0], heard[1])
    assert np.array_equal(heard[1], decode(probe(recordings / "seance.m4a"), pcm16=True))
    assert together == alone


def test_a_released_model_is_forgotten_and_loaded_again_when_asked():
    from pipeline.steps import Models

    models, loads = Models(), []
    models.get("whisper", lambda: loads.append(1) or object())
    models.release("whisper")
    models.release("whisper")  # twice: nothing to give back
    models.get("whisper", lambda: loads.append(1) or object())
    assert loads == [1, 1] and list(models.loaded) == ["whisper"]
