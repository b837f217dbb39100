"""``make bench-kills``: ``pipeline publish`` and ``pipeline archive`` killed (SIGKILL) many
times, half at a random moment of the run, half within 30 ms of their staging folder
appearing (while they write); then one normal run. Counts the staging folders left behind
(target: none after the next run), checks that every JSON file still parses after each
kill, and that ``pipeline verify`` passes at the end.

The series is the bundled sample processed once (real models, about a minute).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGING = ".staging-"


def pipeline(*arguments: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "pipeline", *arguments], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def leftovers(outputs: Path) -> list[Path]:
    return [*outputs.glob(f"{STAGING}*"), *(outputs / "archive").glob(f"{STAGING}*")]


def broken_json(outputs: Path) -> list[str]:
    bad = []
    for path in outputs.rglob("*.json"):
        if STAGING in str(path):
            continue  # a staging folder is not an output: the next run sweeps it
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            bad.append(f"{path}: {exc}")
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=24, help="kills in all, publish and archive alternately")
    parser.add_argument("--seed", type=int, default=20261126)
    args = parser.parse_args()
    chance = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        recordings, outputs = Path(tmp) / "recordings", Path(tmp) / "outputs"
        shutil.copytree(ROOT / "recordings", recordings)
        folders = ["--recordings", str(recordings), "--outputs", str(outputs)]
        subprocess.run([sys.executable, "-m", "pipeline", "run", *folders], cwd=ROOT, check=True, capture_output=True)
        durations = {}
        for command in ("publish", "archive"):
            started = time.perf_counter()
            if pipeline(command, *folders, "--force").wait() != 0:
                raise SystemExit(f"pipeline {command} failed before any kill")
            durations[command] = time.perf_counter() - started
        print("uninterrupted: " + ", ".join(f"{c} {d:.2f} s" for c, d in durations.items()))
        kills, while_staging, damaged, left_after_next = 0, 0, [], 0
        attempt = 0
        while kills < args.kills and attempt < args.kills * 4:
            command = ("publish", "archive")[attempt % 2]
            attempt += 1
            victim = pipeline(command, *folders, "--force")
            if attempt % 4 < 2:  # at a random moment of the run
                time.sleep(chance.uniform(0.3, durations[command]))
            else:  # while it writes: once its staging folder exists, within 30 ms
                deadline = time.monotonic() + 10 * durations[command]
                while victim.poll() is None and not leftovers(outputs) and time.monotonic() < deadline:
                    time.sleep(0.002)
                time.sleep(chance.uniform(0.0, 0.03))
            if victim.poll() is not None:
                continue  # finished before its moment: not a kill
            staging = bool(leftovers(outputs))
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            kills += 1
            while_staging += staging
            damaged += broken_json(outputs)
            # the next command of either kind sweeps what this one left
            follower = pipeline(("archive", "publish")[attempt % 2], *folders)
            follower.wait()
            left_after_next += len(leftovers(outputs))
        final = pipeline("run", *folders, "--only", "publish", "--only", "archive").wait()
        verify = subprocess.run(
            [sys.executable, "-m", "pipeline", "verify", "--outputs", str(outputs)], cwd=ROOT, capture_output=True, text=True
        )
        print(f"kills: {kills} ({while_staging} with a staging folder present at the moment of the kill), attempts {attempt}")
        print(f"JSON files that did not parse after a kill: {len(damaged)}" + "".join(f"\n  {d}" for d in damaged[:5]))
        print(f"staging folders left after the next command, summed over kills: {left_after_next} (target 0)")
        print(f"after a normal run: exit {final}, staging folders {len(leftovers(outputs))}, verify exit {verify.returncode}")
        if verify.returncode:
            print(verify.stdout[-2000:])


if __name__ == "__main__":
    main()
