"""``make bench-corrections``: 10 words corrected in a one-hour transcript, to every output.

A series of 6 sessions, each a one-hour transcript (900 segments, as in ``bench_publish.py``),
is taken through ``pipeline run`` once (transcript, keywords, synthesis, site, archive; no
recording, so no Whisper and no voice model). Then an editor replaces 10 words of one
session's ``transcript.txt`` and runs ``pipeline run`` again, in a fresh process as an editor
would. Printed: the wall time of that run (target: <= 5 s on 2 cores) with each stage's share,
and, as the baseline measured in the same run, the same command when nothing changed (what
a rerun costs anyway: start-up, planning, hashing).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_publish import one_hour  # noqa: E402

from pipeline import transcript as transcript_io  # noqa: E402
from pipeline.store import Names, Store  # noqa: E402

SESSIONS = 6
STAGES = ["--only", "transcript", "--only", "keywords", "--only", "synthesis", "--only", "publish", "--only", "archive"]


def run(recordings: Path, outputs: Path) -> tuple[float, dict[str, float]]:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--recordings", str(recordings), "--outputs", str(outputs), *STAGES],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - started
    rows = json.loads((outputs / Names.LAST_RUN).read_text(encoding="utf-8"))
    stages: dict[str, float] = {}
    for row in rows:
        if row["status"] != "up to date":
            key = f"{row['stage']} ({row['session_id'] or 'site'})"
            stages[key] = stages.get(key, 0.0) + float(row["seconds"])
    return wall, stages


def main() -> None:
    base = transcript_io.load(ROOT / "tests" / "fixtures" / "transcript-sobriete-gouvernance.json")
    with tempfile.TemporaryDirectory() as tmp:
        recordings, outputs = Path(tmp) / "recordings", Path(tmp) / "outputs"
        recordings.mkdir()
        shutil.copy(ROOT / "recordings" / "themes.toml", recordings / "themes.toml")
        (recordings / "pipeline.toml").write_text("[speakers]\nenabled = false\n", encoding="utf-8")
        store = Store(outputs)
        for n in range(SESSIONS):
            session_id = f"seance-{n}"
            transcript = replace(one_hour(base, session_id), provenance=replace(base.provenance, input_name=f"{session_id}.mp4"))
            store.write_stage(session_id, "transcribe", "bench", {Names.ASR: transcript_io.dumps(transcript)})
        first, _ = run(recordings, outputs)
        unchanged, _ = run(recordings, outputs)

        path = store.path("seance-0", Names.TRANSCRIPT_TXT)
        text = path.read_text(encoding="utf-8")
        words = sum(len(s.words) for s in transcript_io.load(store.path("seance-0", Names.TRANSCRIPT)).segments)
        targets = ["sobriété", "données", "collectivité", "capteurs", "infrastructures"]
        edited, count = text, 0
        for word in targets:  # 2 occurrences of each, spread over the hour
            places = [m.start() for m in re.finditer(rf"\b{word}\b", edited)]
            for place in (places[len(places) // 4], places[3 * len(places) // 4]):
                edited = edited[:place] + word.upper() + edited[place + len(word) :]
                count += 1
        path.write_text(edited, encoding="utf-8")
        corrected, stages = run(recordings, outputs)
        transcript = transcript_io.load(store.path("seance-0", Names.TRANSCRIPT))
        editor_words = sum(1 for c in transcript.corrections if c.rule == "editor")
        site = (outputs / "site" / "sessions" / "seance-0" / "index.html").read_text(encoding="utf-8")

    print(f"{SESSIONS} sessions of one hour ({words} words each); {count} words corrected in one, {editor_words} recorded")
    print(f"first run (everything)             {first:6.2f} s")
    print(f"rerun, nothing changed (baseline)  {unchanged:6.2f} s")
    print(f"rerun after the correction         {corrected:6.2f} s  (target <= 5 s; {corrected / unchanged:.2f}× the baseline)")
    for stage, seconds in stages.items():
        print(f"  {stage:12} {seconds:6.2f} s")
    print("site shows the corrections:", all(w.upper() in site for w in targets))


if __name__ == "__main__":
    main()
