"""``make bench``: pipeline transcription against raw faster-whisper, in one run.

Each measurement is a separate process (so model loading, decoding and start-up count the
same way for both) and its peak memory comes from ``wait4``. Prints wall times, their ratio,
the real-time factor, peak RSS and WER against the reference (case, punctuation and accents
normalised). Skips with a message when the dev data in ``../shared/data`` is absent.

    python benchmarks/bench_transcribe.py [--audio FILE --reference FILE] [--compare]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "speech-fr-dev"
sys.path.insert(0, str(ROOT))

from pipeline.evaluation import word_error_rate  # noqa: E402
from pipeline.models import resolve_model  # noqa: E402
from pipeline.transcribe import TranscriptionOptions  # noqa: E402
from pipeline.voice_graphs import cores  # noqa: E402

RAW = """
import json, sys
from faster_whisper import WhisperModel, BatchedInferencePipeline
model_dir, audio, options, threads, batched = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=threads)
engine = BatchedInferencePipeline(model) if batched else model
if not batched:
    options.pop("batch_size", None)
segments, info = engine.transcribe(audio, **options)
print(json.dumps({"text": " ".join(s.text.strip() for s in segments)}))
"""


def measure(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB, and stdout of one process."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return wall, usage.ru_maxrss / 1024, text


def resume_cost(audio: Path, duration: float, reference: str) -> tuple[float, float, float]:
    """Kill ``pipeline transcribe`` once its checkpoint passes half the audio, rerun it:
    (where it was killed, the rerun's wall seconds, the final WER)."""
    import signal

    from pipeline.catalogue import slugify
    from pipeline.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pipeline", "transcribe", str(audio), "--catalogue", tmp, "--outputs", tmp]
        checkpoint = Store(Path(tmp)).checkpoint_path(slugify(audio.stem), "transcribe")
        victim = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        killed_at = 0.0
        while killed_at < duration / 2 and victim.poll() is None:
            time.sleep(0.2)
            lines = checkpoint.read_text(encoding="utf-8").splitlines()[1:] if checkpoint.exists() else []
            killed_at = json.loads(lines[-1])["end"] if lines else 0.0
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        wall, _, _ = measure(command)
        text = json.loads((Path(tmp) / slugify(audio.stem) / "transcript.json").read_text(encoding="utf-8"))
    return killed_at, wall, word_error_rate(reference, " ".join(s["text"] for s in text["segments"]))


def memory_curve(audio: Path, watch: float, lengths: tuple[float, ...] = (0.5, 1, 2, 4)) -> None:
    """Peak RSS (VmHWM) of ``pipeline transcribe --no-speakers`` on the file repeated to 0.5, 1,
    2 and 4 hours, each watched for ``watch`` seconds (the batched pipeline builds every
    chunk's features before decoding, so its peak comes early; a run still going when the watch
    ends is stopped and its peak so far reported)."""
    from pipeline.media import ffmpeg_executable, probe

    length = probe(audio).duration
    print(f"memory against length: {audio.name} ({length:.0f} s) repeated; each run watched {watch:.0f} s", flush=True)
    for hours in lengths:
        with tempfile.TemporaryDirectory() as tmp:
            long = Path(tmp) / f"long-{hours}h.flac"
            subprocess.run(
                [
                    ffmpeg_executable(),
                    "-v",
                    "error",
                    "-stream_loop",
                    "-1",
                    "-i",
                    str(audio),
                    "-t",
                    str(hours * 3600),
                    "-ac",
                    "1",
                    str(long),
                ],
                check=True,
            )
            command = [sys.executable, "-m", "pipeline", "transcribe", str(long), "--catalogue", tmp, "--outputs", tmp, "--no-speakers"]
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            started, peak = time.perf_counter(), 0
            while process.poll() is None and time.perf_counter() - started < watch:
                try:
                    status = Path(f"/proc/{process.pid}/status").read_text()
                    peak = max(peak, int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))))
                except (OSError, StopIteration):
                    pass
                time.sleep(0.5)
            finished = process.poll() is not None
            if not finished:
                process.kill()
            process.wait()
            print(f"{hours:4} h: peak {peak / 1024:7.0f} MiB ({'finished' if finished else f'stopped after {watch:.0f} s'})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path, default=DATA / "asterisk-fr-june-concat.flac")
    parser.add_argument("--reference", type=Path, default=DATA / "asterisk-fr-june-concat.ref.txt")
    parser.add_argument("--compare", action="store_true", help="also measure raw default settings and sequential decoding")
    parser.add_argument("--resume", action="store_true", help="also kill a transcription at 50 %% and time its resumption")
    parser.add_argument(
        "--memory-curve", action="store_true", help="only: peak memory of pipeline transcribe on 0.5, 1, 2 and 4 hours (the file repeated)"
    )
    parser.add_argument("--hours", type=float, nargs="*", default=[0.5, 1, 2, 4], help="with --memory-curve: the lengths to try")
    parser.add_argument("--watch", type=float, default=300.0, help="with --memory-curve: seconds each run is watched before it is stopped")
    args = parser.parse_args()
    if not args.audio.exists():
        print(f"skipped: {args.audio} is absent (dev-only data in ../shared/data)")
        return
    if args.memory_curve:
        memory_curve(args.audio, args.watch, tuple(args.hours))
        return
    reference = args.reference.read_text(encoding="utf-8")
    threads = cores()
    model = resolve_model("base")
    options = TranscriptionOptions()
    # The raw run gets exactly the pipeline's decoding options and vocabulary (none here:
    # a recording outside the catalogue has no speakers and no session themes to prime).
    decoding = {k: v for k, v in options.decoding_options().items()}
    from pipeline.media import probe

    duration = probe(args.audio).duration
    rows = []

    def raw(label: str, opts: dict[str, object], batched: bool = False) -> None:
        wall, rss, out = measure(
            [sys.executable, "-c", RAW, str(model.path), str(args.audio), json.dumps(opts), str(threads), "1" if batched else "0"]
        )
        rows.append((label, wall, rss, word_error_rate(reference, json.loads(out)["text"])))

    def pipeline(label: str, extra: list[str]) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            wall, rss, _ = measure(
                [sys.executable, "-m", "pipeline", "transcribe", str(args.audio), "--catalogue", tmp, "--outputs", tmp, *extra]
            )
            text = json.loads((Path(tmp) / args.audio.stem / "transcript.json").read_text(encoding="utf-8"))
        hypothesis = " ".join(s["text"] for s in text["segments"])
        rows.append((label, wall, rss, word_error_rate(reference, hypothesis)))
        return wall

    print(
        f"audio: {args.audio.name}, {duration:.1f} s; model {model.id}; {threads} threads; options {json.dumps(asdict(options))}",
        flush=True,
    )
    raw("raw faster-whisper, pipeline's options", decoding, batched=options.batch_size > 0)
    pipeline("pipeline transcribe", [])
    if args.compare:
        raw("raw faster-whisper, default settings (language fr)", {"language": "fr"})
        sequential = TranscriptionOptions(batch_size=0).decoding_options()
        raw("raw faster-whisper sequential, pipeline's options", sequential)
        pipeline("pipeline transcribe --batch-size 0 (sequential)", ["--batch-size", "0"])
    if args.resume:
        resume_rows = resume_cost(args.audio, duration, reference)
    # Memory against length: the same pipeline on the 123-s bundled sample.
    short = ROOT / "recordings" / "2022-03-17-sobriete.mp4"
    short_duration = probe(short).duration
    with tempfile.TemporaryDirectory() as tmp:
        _, short_rss, _ = measure([sys.executable, "-m", "pipeline", "transcribe", str(short), "--catalogue", tmp, "--outputs", tmp])
    print(f"\n{'run':58} {'wall s':>8} {'RTF':>6} {'peak MiB':>9} {'WER %':>6}")
    for label, wall, rss, wer in rows:
        print(f"{label:58} {wall:8.1f} {wall / duration:6.3f} {rss:9.0f} {wer * 100:6.1f}")
    raw_same, pipe = rows[0][1], rows[1][1]
    print(f"\npipeline / raw (same options) wall-time ratio: {pipe / raw_same:.3f}")
    print(f"pipeline real-time factor: {pipe / duration:.3f}")
    long_rss = rows[1][2]
    decoded_growth = (duration - short_duration) * 16_000 * 2 / 2**20
    print(
        f"memory: peak {short_rss:.0f} MiB for {short_duration:.0f} s, {long_rss:.0f} MiB for {duration:.0f} s: "
        f"+{long_rss - short_rss:.0f} MiB, "
        f"where the longer decoded audio alone is +{decoded_growth:.0f} MiB (16-bit samples, 16 kHz)"
    )
    if args.compare:
        print(f"pipeline WER minus raw default WER: {(rows[1][3] - rows[2][3]) * 100:+.1f} points")
    if args.resume:
        killed_at, rerun_wall, rerun_wer = resume_rows
        print(
            f"resume: killed at {killed_at:.0f} s of {duration:.0f} s ({killed_at / duration:.0%}); rerun {rerun_wall:.1f} s = "
            f"{rerun_wall / pipe:.2f} of a full `pipeline transcribe` (target <= 0.60); WER after resuming {rerun_wer * 100:.1f} %"
        )


if __name__ == "__main__":
    main()
