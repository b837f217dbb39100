"""``make bench-session``: the whole ``pipeline run`` (every stage) on a one-hour session.

The session is the 15-minute long-form dev file (``benchmarks/devdata.py``: 15 speakers,
pauses, jingles, applause) played four times in a row, 60.7 minutes, with a catalogue entry
as an editor would write it. One process, as an editor runs it, into a fresh outputs folder;
printed: the wall time and real-time factor of the run, each stage's time and share (from the
run's own record), and the peak memory.

    python benchmarks/bench_session.py [--times N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import devdata  # noqa: E402
from bench_longform import PEAK  # noqa: E402

from pipeline import transcript as transcript_io  # noqa: E402
from pipeline.media import ffmpeg_executable  # noqa: E402
from pipeline.store import Names  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", type=int, default=4, help="how many times the long-form file is played (4: one hour)")
    args = parser.parse_args()
    if not devdata.available():
        print("skipped: dev data absent under ../shared/data")
        return
    source = devdata.ensure() / "longform.flac"
    with tempfile.TemporaryDirectory() as tmp:
        recordings = Path(tmp) / "recordings"
        recordings.mkdir()
        shutil.copy(ROOT / "recordings" / "themes.toml", recordings / "themes.toml")
        session = recordings / "seance-longue.flac"
        listing = Path(tmp) / "list.txt"
        listing.write_text("".join(f"file '{source}'\n" for _ in range(args.times)), encoding="utf-8")
        subprocess.run(
            [ffmpeg_executable(), "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(session)], check=True
        )
        (recordings / "sessions.toml").write_text(
            '[[session]]\nid = "seance-longue"\ntitle = "Les acteurs privés de la ville numérique"\nrecording = "seance-longue.flac"\n'
            'themes = ["ecosysteme-entreprises"]\nspeakers = [{ name = "Camille Durand", role = "Modératrice" }]\n',
            encoding="utf-8",
        )
        outputs = Path(tmp) / "outputs"
        command = [
            sys.executable,
            "-c",
            PEAK + "\nimport runpy, sys\nsys.argv = ['pipeline', *sys.argv[1:]]\nrunpy.run_module('pipeline', run_name='__main__')",
        ]
        command += ["run", "--recordings", str(recordings), "--outputs", str(outputs)]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        peak = max((int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_KB ")), default=0) / 1024
        if done.returncode:
            print(done.stderr[-2000:])
        runs = json.loads((outputs / ".last-run.json").read_text(encoding="utf-8"))
        duration = transcript_io.load(outputs / "seance-longue" / Names.TRANSCRIPT).duration
    print(f"one session of {duration / 60:.1f} min, every stage, one process (2 cores, Whisper base int8):")
    print(f"  wall {wall:.1f} s, real-time factor {wall / duration:.3f}, peak memory {peak:.0f} MiB, exit status {done.returncode}")
    stages = [(r["stage"], float(r["seconds"])) for r in runs]
    counted = sum(seconds for _, seconds in stages)
    for stage, seconds in stages:
        print(f"  {stage:12}{seconds:8.1f} s {seconds / wall:7.1%}")
    print(f"  {'start-up, planning, summary':28}{wall - counted:8.1f} s {(wall - counted) / wall:7.1%}")


if __name__ == "__main__":
    main()
