"""``make bench``: accuracy and cost of transcription on long-form, multi-speaker French, in one run.

Dev files: ``../shared/data/speech-fr-dev`` (ej-fra, the 21.8-min Asterisk file),
``../shared/data/conversations-fr-dev`` (conv01-03) and the files built from them by
``benchmarks/devdata.py`` (``longform``: 15 min, 15 speakers, pauses, jingles and applause;
``mix01``-``mix04``: panels). Skips with a message when the dev data is absent.

Every row is a **whole process per file** (start-up and model loading included, as an editor
runs it), the configurations taking turns file by file so that the machine's state weighs on
all alike:

- raw faster-whisper, ``BatchedInferencePipeline``, batch 8, beam 5, word timestamps, its VAD
  (the reference the ratio divides by);
- raw faster-whisper, sequential, beam 5 + VAD, word timestamps;
- ``pipeline transcribe --no-speakers`` (defaults);
- ``pipeline transcribe`` (defaults: the speakers stage too).

Printed: per file WER, wall time, ratio to raw batched and peak memory (RSS), and overall.
``--profile NAME`` then profiles ``pipeline transcribe --no-speakers`` on one file, on the
code at the start of the work (``--start``, from a temporary git worktree) and now: where the
time goes (Whisper itself, the lost-speech guard, audio decoding, model loading, start-up).
``--overhead`` measures the fixed cost per recording on the 43 short source clips.
``--variants`` adds the older configurations (hotwords, VAD silences, no guard, sequential).

    python benchmarks/bench_longform.py [--repeats N] [--only NAME ...] [--profile NAME] [--overhead] [--variants]
"""

from __future__ import annotations

import argparse
import json
import os
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

from pipeline.catalogue import slugify  # noqa: E402
from pipeline.voice_graphs import cores  # noqa: E402

SHARED = devdata.SHARED
THREADS = cores()
OLD_HOTWORDS = (
    "Animateur, Julien Moreau, Sobriété, matérialité et infrastructures (échantillon synthétique), Sobriété, sobriété numérique, "
    "consommation énergétique, gaz à effet de serre, Instrumentation et mesure, capteurs, données, interopérabilité, "
    "Gouvernance publique, gouvernance des données, administration"
)
"""The vocabulary the product gave Whisper before (speakers, title, theme labels and terms)."""

PEAK = (
    "import atexit, resource, sys\n"
    "atexit.register(lambda: print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr))"
)
"""Prepended to a measured child: its peak RSS printed at exit."""
START = "364b589"
"""The commit at the start of the work on issue 24."""

RAW = """
import json, sys, time
from faster_whisper import WhisperModel, BatchedInferencePipeline
model_dir, files, options = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
threads, batched = int(sys.argv[4]), sys.argv[5] == "1"
model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=threads)
engine = BatchedInferencePipeline(model) if batched else model
for path in files:
    started = time.perf_counter()
    segments, info = engine.transcribe(path, **options)
    text = " ".join(s.text.strip() for s in segments)
    print(json.dumps({"file": path, "wall": time.perf_counter() - started, "text": text}), flush=True)
"""


def dev_files() -> list[tuple[Path, Path]]:
    """(audio, reference) of every dev file, the built ones made if needed."""
    built = devdata.ensure()
    files = [(SHARED / "speech-fr-dev" / "ej-fra.m4a", SHARED / "speech-fr-dev" / "ej-fra.ref.txt")]
    files += [
        (SHARED / "conversations-fr-dev" / f"conv0{i}.flac", SHARED / "conversations-fr-dev" / f"conv0{i}.ref.txt") for i in (1, 2, 3)
    ]
    files += [(built / f"mix0{i}.flac", built / f"mix0{i}.ref.txt") for i in (1, 2, 3, 4)]
    files += [(built / "longform.flac", built / "longform.ref.txt")]
    files += [(SHARED / "speech-fr-dev" / "asterisk-fr-june-concat.flac", SHARED / "speech-fr-dev" / "asterisk-fr-june-concat.ref.txt")]
    return files


def catalogue(folder: Path, files: list[tuple[Path, Path]]) -> None:
    """The editor's catalogue: themes, and a session per file with plausible speakers."""
    shutil.copy(ROOT / "recordings" / "themes.toml", folder / "themes.toml")
    entries = []
    for audio, _ in files:
        if audio.stem == "ej-fra":
            speakers = '[{ name = "Éric Joanis", role = "Programmeur, CNRC" }]'
        else:
            speakers = '[{ name = "Camille Durand", role = "Modératrice" }, { name = "Julien Moreau", role = "Chercheur" }]'
        entries.append(
            f'[[session]]\nid = "{slugify(audio.stem)}"\ntitle = "Séance de travail ({audio.stem})"\nrecording = "{audio.name}"\n'
            f'themes = ["sobriete", "gouvernance-publique"]\nspeakers = {speakers}\n'
        )
    (folder / "sessions.toml").write_text("\n".join(entries), encoding="utf-8")


def raw(files: list[Path], options: dict[str, object], batched: bool) -> tuple[float, dict[str, dict[str, object]]]:
    from pipeline.models import resolve_model

    started = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            RAW,
            str(resolve_model("base").path),
            json.dumps([str(f) for f in files]),
            json.dumps(options),
            str(THREADS),
            "1" if batched else "0",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return time.perf_counter() - started, {Path(str(r["file"])).stem: r for r in rows}


def product(files: list[Path], catalogue_dir: Path, extra: list[str], settings: str = "") -> tuple[float, dict[str, dict[str, object]]]:
    with tempfile.TemporaryDirectory() as tmp:
        if settings:  # a copy of the catalogue with these settings in pipeline.toml
            catalogue_dir = Path(shutil.copytree(catalogue_dir, Path(tmp) / "catalogue"))
            (catalogue_dir / "pipeline.toml").write_text(settings, encoding="utf-8")
        started = time.perf_counter()
        subprocess.run(
            # speakers are measured by bench_speakers.py: here, the transcription alone
            [
                sys.executable,
                "-m",
                "pipeline",
                "transcribe",
                *map(str, files),
                "--catalogue",
                str(catalogue_dir),
                "--outputs",
                tmp,
                "--no-speakers",
                *extra,
            ],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        wall = time.perf_counter() - started
        runs = json.loads((Path(tmp) / ".last-run.json").read_text(encoding="utf-8"))
        seconds = {r["session_id"]: r["seconds"] for r in runs if r["stage"] == "transcribe"}
        rows = {}
        for audio in files:
            folder = Path(tmp) / slugify(audio.stem)
            if not (folder / "transcript.json").exists():
                continue  # refused (too short): counted in the wall time, not in the table
            data = json.loads((folder / "transcript.json").read_text(encoding="utf-8"))
            rows[audio.stem] = {
                "wall": seconds.get(slugify(audio.stem), 0.0),
                "text": " ".join(s["text"] for s in data["segments"]),
                "corrections": data["corrections"],
                "quality": data["quality"],
            }
    return wall, rows


def measured(command: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a Python child (``command`` after the interpreter); its wall time, peak RSS (MiB)
    and standard output."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *command], cwd=cwd, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - started
    peaks = [int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_KB ")]
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{command[:3]} failed: {done.stderr[-800:]}")
    return wall, (peaks[-1] / 1024 if peaks else 0.0), done.stdout


def raw_one(audio: Path, options: dict[str, object], batched: bool) -> dict[str, object]:
    """Raw faster-whisper on one file, in its own process."""
    from pipeline.models import resolve_model

    model = str(resolve_model("base").path)
    wall, peak, out = measured(
        ["-c", PEAK + "\n" + RAW, model, json.dumps([str(audio)]), json.dumps(options), str(THREADS), "1" if batched else "0"]
    )
    row = next(json.loads(line) for line in out.splitlines() if line.startswith("{"))
    return {"wall": wall, "peak": peak, "text": row["text"]}


def product_one(audio: Path, catalogue_dir: Path, extra: list[str]) -> dict[str, object]:
    """``pipeline transcribe`` on one file, in its own process, into a fresh outputs folder."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            "-c",
            PEAK + "\nimport runpy, sys\nsys.argv = ['pipeline', *sys.argv[1:]]\nrunpy.run_module('pipeline', run_name='__main__')",
        ]
        command += ["transcribe", str(audio), "--catalogue", str(catalogue_dir), "--outputs", tmp, *extra]
        wall, peak, _ = measured(command)
        folder = Path(tmp) / slugify(audio.stem)
        data = json.loads((folder / "transcript.json").read_text(encoding="utf-8"))
        runs = json.loads((Path(tmp) / ".last-run.json").read_text(encoding="utf-8"))
        stages = {r["stage"]: float(r["seconds"]) for r in runs}
    return {
        "wall": wall,
        "peak": peak,
        "text": " ".join(seg["text"] for seg in data["segments"]),
        "stages": stages,
        "quality": data["quality"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs of each configuration per file (the median is kept)")
    parser.add_argument("--only", nargs="*", default=None, help="only these files (by name, e.g. longform mix01)")
    parser.add_argument("--profile", default="", help="profile the product on this file, at the start of the work and now")
    parser.add_argument("--start", default=START, help="the commit the profile compares with")
    parser.add_argument("--overhead", action="store_true", help="also measure the fixed cost per recording on 43 short clips")
    parser.add_argument("--variants", action="store_true", help="also the older configurations, all files in one process each")
    parser.add_argument("--quick", action="store_true", help="two short files only (a smoke test of the bench itself)")
    args = parser.parse_args()
    if not devdata.available():
        print(f"skipped: dev data absent under {SHARED}")
        return
    from jiwer import process_words

    from pipeline.evaluation import normalize

    pairs = dev_files()[:2] if args.quick else [p for p in dev_files() if not args.only or p[0].stem in args.only]
    references = {a.stem: normalize(r.read_text(encoding="utf-8")) for a, r in pairs}
    durations = {a.stem: devdata.load(a).shape[0] / devdata.SR for a, _ in pairs}
    base = {"language": "fr", "beam_size": 5, "word_timestamps": True}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        catalogue(folder, pairs)
        configs = {
            "raw batched 8": lambda a: raw_one(a, {**base, "batch_size": 8}, batched=True),
            "raw sequential": lambda a: raw_one(a, {**base, "vad_filter": True}, batched=False),
            "pipeline --no-speakers": lambda a: product_one(a, folder, ["--no-speakers"]),
            "pipeline (with speakers)": lambda a: product_one(a, folder, []),
        }
        results: dict[str, dict[str, dict[str, object]]] = {label: {} for label in configs}
        for audio, _ in pairs:
            runs: dict[str, list[dict[str, object]]] = {label: [] for label in configs}
            for _ in range(args.repeats):
                for label, run in configs.items():  # the configurations take turns
                    runs[label].append(run(audio))
            for label, rows in runs.items():
                rows.sort(key=lambda r: float(r["wall"]))  # type: ignore[arg-type]
                results[label][audio.stem] = rows[len(rows) // 2]
            print(f"done: {audio.stem} ({durations[audio.stem]:.0f} s)", flush=True)
    names = [a.stem for a, _ in pairs]
    print(f"\n{len(names)} dev files, {sum(durations.values()) / 60:.1f} min; Whisper base int8, {THREADS} threads;")
    print(f"whole process per file, median of {args.repeats}; ratio = wall / raw batched wall on the same file\n")
    reference = results["raw batched 8"]
    for label, rows in results.items():
        print(label)
        print(f"  {'file':12}{'audio s':>9}{'WER %':>8}{'wall s':>9}{'ratio':>8}{'peak MiB':>10}")
        errors = words = 0
        wall = raw_wall = 0.0
        for name in names:
            row = rows[name]
            scored = process_words(references[name], normalize(str(row["text"])))
            errors += scored.substitutions + scored.deletions + scored.insertions
            words += scored.hits + scored.substitutions + scored.deletions
            wall += float(row["wall"])  # type: ignore[arg-type]
            raw_wall += float(reference[name]["wall"])  # type: ignore[arg-type]
            ratio = float(row["wall"]) / float(reference[name]["wall"])  # type: ignore[arg-type]
            print(
                f"  {name:12}{durations[name]:9.0f}{scored.wer * 100:8.1f}{float(row['wall']):9.1f}{ratio:8.3f}{float(row['peak']):10.0f}"
            )  # type: ignore[arg-type]
        peak = max(float(rows[n]["peak"]) for n in names)  # type: ignore[arg-type]
        print(f"  {'overall':12}{sum(durations.values()):9.0f}{errors / words * 100:8.1f}{wall:9.1f}{wall / raw_wall:8.3f}{peak:10.0f}\n")
    speakers = results["pipeline (with speakers)"]
    share = sum(float(speakers[n]["stages"].get("speakers", 0.0)) for n in names)  # type: ignore[union-attr]
    decoding = sum(float(speakers[n]["stages"].get("transcribe", 0.0)) for n in names)  # type: ignore[union-attr]
    print(f"speakers stage: {share:.1f} s for {decoding:.1f} s of transcription: {share / max(decoding, 1e-9):.3f} of it (target <= 0.15)")
    long = [n for n in names if durations[n] >= 300]
    if long:
        own = sum(float(speakers[n]["stages"].get("speakers", 0.0)) for n in long)  # type: ignore[union-attr]
        whole = sum(float(speakers[n]["stages"].get("transcribe", 0.0)) for n in long)  # type: ignore[union-attr]
        print(f"  on the files of 5 min or more ({', '.join(long)}): {own / max(whole, 1e-9):.3f}")
    guard = [(n, s) for n in names for s in results["pipeline --no-speakers"][n]["quality"]["redecoded"]]  # type: ignore[index]
    print(f"lost-speech guard: {len(guard)} windows recovered; " + ", ".join(f"{n} {s['start']:.0f}-{s['end']:.0f} s" for n, s in guard))
    if args.variants:
        variants(pairs, references)
    if args.profile:
        profile(
            next(a for a, _ in pairs if a.stem == args.profile) if any(a.stem == args.profile for a, _ in pairs) else Path(args.profile),
            args.start,
        )
    if args.overhead:
        overhead()


BUCKETS = {
    "Whisper decoding of the recording": ("pipeline/transcribe.py", "stream"),
    "lost-speech guard: re-decoding": ("pipeline/guard.py", "repair"),
    "lost-speech guard: finding lost speech (VAD)": ("pipeline/guard.py", "lost_windows"),
    "audio decoding (ffmpeg)": ("pipeline/media.py", "decode"),
    "model loading": ("pipeline/transcribe.py", "__post_init__"),
}


def profile(audio: Path, start: str) -> None:
    """Where ``pipeline transcribe --no-speakers`` spends its time on one file, at the start
    of the work and now, each under cProfile in its own process."""
    import pstats

    audio = audio.resolve()
    print(f"\nprofile of `pipeline transcribe --no-speakers` on {audio.stem} (cProfile, cumulative seconds)")
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"now": ROOT}
        made = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", f"{tmp}/start", start], capture_output=True)
        if made.returncode == 0:
            trees = {f"start ({start})": Path(tmp) / "start", **trees}
        try:
            columns = {}
            for label, tree in trees.items():
                out = Path(tmp) / f"{label[:5]}.prof"
                catalogue_dir = Path(tmp) / f"catalogue-{label[:5]}"
                catalogue_dir.mkdir()
                outputs = Path(tmp) / f"outputs-{label[:5]}"
                env = {**os.environ, "PYTHONPATH": str(tree)}
                command = ["-m", "cProfile", "-o", str(out), "-m", "pipeline", "transcribe", str(audio)]
                wall, _, _ = measured([*command, "--catalogue", str(catalogue_dir), "--outputs", str(outputs), "--no-speakers"], tree, env)
                stats = pstats.Stats(str(out))
                table: dict[str, float] = {}
                for name, (path, function) in BUCKETS.items():
                    table[name] = sum(
                        entry[3]
                        for (file, _, func), entry in stats.stats.items()
                        if file.endswith(path) and func == function  # type: ignore[attr-defined]
                    )
                table["the rest (start-up, imports, probing, hashing, writing)"] = wall - sum(table.values())
                table["whole process (wall)"] = wall
                columns[label] = table
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", f"{tmp}/start"], capture_output=True)
    labels = list(columns)
    print(f"  {'':58}" + "".join(f"{label[:18]:>20}" for label in labels))
    for name in next(iter(columns.values())):
        print(f"  {name:58}" + "".join(f"{columns[label][name]:20.2f}" for label in labels))


def variants(pairs: list[tuple[Path, Path]], references: dict[str, str]) -> None:
    """The older configurations, all files in one process each (WER and wall)."""
    from jiwer import process_words

    from pipeline.evaluation import normalize

    audio = [a for a, _ in pairs]
    base = {"language": "fr", "beam_size": 5}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        catalogue(folder, pairs)
        configs = {
            "raw batched 8 + old hotwords": lambda: raw(audio, {**base, "batch_size": 8, "hotwords": OLD_HOTWORDS}, batched=True),
            "pipeline --no-vocabulary": lambda: product(audio, folder, ["--no-vocabulary"]),
            "pipeline --batch-size 0": lambda: product(audio, folder, ["--batch-size", "0"]),
            "pipeline --no-guard": lambda: product(audio, folder, ["--no-guard"]),
            "pipeline, VAD silences 1000 ms": lambda: product(audio, folder, [], "[transcription]\nvad_min_silence_ms = 1000\n"),
            "pipeline, VAD silences 160 ms": lambda: product(audio, folder, [], "[transcription]\nvad_min_silence_ms = 160\n"),
        }
        print("\nvariants (all files in one process each): WER %, wall s")
        for label, run in configs.items():
            wall, rows = run()
            errors = words = 0
            for name, reference in references.items():
                scored = process_words(reference, normalize(str(rows[name]["text"])))
                errors += scored.substitutions + scored.deletions + scored.insertions
                words += scored.hits + scored.substitutions + scored.deletions
            print(f"  {label:36}{errors / words * 100:8.1f}{wall:9.1f}", flush=True)


def overhead() -> None:
    """Fixed cost per recording: the short source clips (those the pipeline accepts: at least
    1 s), raw batched vs `pipeline transcribe`, each in one process over all of them."""
    clips = [
        p for p in sorted((SHARED / "conversations-fr-dev" / "sources").rglob("*.flac")) if devdata.load(p).shape[0] >= 1.5 * devdata.SR
    ]
    with tempfile.TemporaryDirectory() as tmp:
        raw_wall, _ = raw(clips, {"language": "fr", "beam_size": 5, "batch_size": 8, "word_timestamps": True}, batched=True)
        product_wall, _ = product(clips, Path(tmp), [])
    print(
        f"\n{len(clips)} short clips: raw batched {raw_wall:.1f} s, pipeline {product_wall:.1f} s: "
        f"{(product_wall - raw_wall) / len(clips):+.2f} s per recording (target <= 0.3)"
    )


if __name__ == "__main__":
    main()
