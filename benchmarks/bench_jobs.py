"""``make bench-jobs``: two recordings transcribed sequentially, then with ``--jobs 2``.

Two copies of the bundled sample (123 s each), real Whisper base, 2 cores, same run.
Prints both wall times and their ratio (target <= 0.65, or a measured reason why not).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "recordings" / "2022-03-17-sobriete.mp4"


def timed(recordings: Path, outputs: Path, extra: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "run",
            "--only",
            "transcribe",
            "--recordings",
            str(recordings),
            "--outputs",
            str(outputs),
            "--force",
            *extra,
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        recordings = Path(tmp) / "recordings"
        recordings.mkdir()
        for name in ("seance-a.mp4", "seance-b.mp4"):
            shutil.copy(SAMPLE, recordings / name)
        sequential = timed(recordings, Path(tmp) / "seq", [])
        parallel = timed(recordings, Path(tmp) / "par", ["--jobs", "2"])
        threads = timed(recordings, Path(tmp) / "one", ["--threads", "1"])
    print("two recordings of 123 s, Whisper base int8, 2 cores, one run:")
    print(f"  sequential, 2 threads per transcription: {sequential:.1f} s")
    print(f"  sequential, 1 thread per transcription:  {threads:.1f} s")
    print(f"  --jobs 2 (1 thread each):                {parallel:.1f} s")
    print(f"ratio --jobs 2 / sequential: {parallel / sequential:.2f} (target <= 0.65)")


if __name__ == "__main__":
    main()
