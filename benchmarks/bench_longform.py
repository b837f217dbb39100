"""Accuracy and speed of transcription on long-form, multi-speaker French, in one run.

Dev files: ``../shared/data/speech-fr-dev`` (ej-fra, the 21.8-min Asterisk file),
``../shared/data/conversations-fr-dev`` (conv01-03) and the files built from them by
``benchmarks/devdata.py`` (``longform``: 15 min, 15 speakers, pauses, jingles and applause;
``mix01``-``mix04``: panels). Skips with a message when the dev data is absent.

Each configuration runs in its own process over every file (the model loaded once), so that
start-up and loading count the same way for all:

- raw faster-whisper, sequential, beam 5 + VAD (its other options at their defaults);
- raw faster-whisper, ``BatchedInferencePipeline``, batch 8, beam 5;
- raw faster-whisper, batched, with the old vocabulary as ``hotwords`` (the mechanism);
- ``pipeline transcribe`` with its defaults (vocabulary on), ``--no-vocabulary``, and
  ``--batch-size 0`` (sequential);

with a catalogue as an editor would write it: the programme's themes, and per file a title
and speakers (real names only where the speaker says his: ej-fra). Prints WER and wall time
per file and overall, the vocabulary's corrections, and the guard's recoveries.
``--overhead`` also measures the fixed cost per recording on the 43 short source clips.

    python benchmarks/bench_longform.py [--overhead] [--only NAME ...]
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

SHARED = devdata.SHARED
THREADS = len(os.sched_getaffinity(0))
OLD_HOTWORDS = (
    "Animateur, Julien Moreau, Sobriété, matérialité et infrastructures (échantillon synthétique), Sobriété, sobriété numérique, "
    "consommation énergétique, gaz à effet de serre, Instrumentation et mesure, capteurs, données, interopérabilité, "
    "Gouvernance publique, gouvernance des données, administration"
)
"""The vocabulary the product gave Whisper before (speakers, title, theme labels and terms)."""

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overhead", action="store_true", help="also measure the fixed cost per recording on 43 short clips")
    parser.add_argument("--only", nargs="*", default=None, help="only these configurations (by label)")
    parser.add_argument("--quick", action="store_true", help="two short files only (a smoke test of the bench itself)")
    args = parser.parse_args()
    if not devdata.available():
        print(f"skipped: dev data absent under {SHARED}")
        return
    from jiwer import process_words

    from pipeline.evaluation import normalize

    pairs = dev_files()[:2] if args.quick else dev_files()
    audio = [a for a, _ in pairs]
    references = {a.stem: normalize(r.read_text(encoding="utf-8")) for a, r in pairs}
    base = {"language": "fr", "beam_size": 5}
    configs = {
        "raw sequential beam 5 + VAD": lambda: raw(audio, {**base, "vad_filter": True}, batched=False),
        "raw batched 8": lambda: raw(audio, {**base, "batch_size": 8}, batched=True),
        "raw batched 8 + old hotwords": lambda: raw(audio, {**base, "batch_size": 8, "hotwords": OLD_HOTWORDS}, batched=True),
        "pipeline (defaults)": lambda: product(audio, folder, []),
        "pipeline --no-vocabulary": lambda: product(audio, folder, ["--no-vocabulary"]),
        "pipeline --batch-size 0": lambda: product(audio, folder, ["--batch-size", "0"]),
        "pipeline --no-guard": lambda: product(audio, folder, ["--no-guard"]),
        "pipeline, VAD silences 1000 ms": lambda: product(audio, folder, [], "[transcription]\nvad_min_silence_ms = 1000\n"),
        "pipeline, VAD silences 160 ms": lambda: product(audio, folder, [], "[transcription]\nvad_min_silence_ms = 160\n"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        catalogue(folder, pairs)
        results = {}
        for label, run in configs.items():
            if args.only and label not in args.only:
                continue
            wall, rows = run()
            results[label] = (wall, rows)
            print(f"done: {label} ({wall:.0f} s)", flush=True)
    durations = {a.stem: devdata.load(a).shape[0] / devdata.SR for a in audio}
    print(f"\n{len(audio)} dev files, {sum(durations.values()) / 60:.1f} min; Whisper base int8, {THREADS} threads\n")
    names = [a.stem for a in audio]
    header = f"{'configuration':32}" + "".join(f"{n[:9]:>10}" for n in names) + f"{'overall':>10}{'wall s':>9}"
    print("WER % per file")
    print(header)
    for label, (wall, rows) in results.items():
        cells, errors, words = [], 0, 0
        for name in names:
            measured = process_words(references[name], normalize(str(rows[name]["text"])))
            errors += measured.substitutions + measured.deletions + measured.insertions
            words += measured.hits + measured.substitutions + measured.deletions
            cells.append(f"{measured.wer * 100:10.1f}")
        print(f"{label:32}" + "".join(cells) + f"{errors / words * 100:10.1f}{wall:9.1f}")
    print("\nwall s per file (decoding, in-process)")
    print(f"{'configuration':32}" + "".join(f"{n[:9]:>10}" for n in names))
    for label, (_, rows) in results.items():
        print(f"{label:32}" + "".join(f"{float(rows[n]['wall']):10.1f}" for n in names))
    for label, (_, rows) in results.items():
        if not label.startswith("pipeline"):
            continue
        fixes = [(n, c) for n in names for c in rows[n].get("corrections", [])]  # type: ignore[union-attr]
        recovered = [(n, s) for n in names for s in rows[n]["quality"]["redecoded"]]  # type: ignore[index]
        lost = sum(rows[n]["quality"]["seconds_without_words"] for n in names)  # type: ignore[index, misc]
        print(f"\n{label}: {len(fixes)} vocabulary corrections, {len(recovered)} windows recovered by the guard,", end=" ")
        print(f"{lost:.1f} s of speech left without words")
        for name, fix in fixes:
            print(f"  {name}: {fix['heard']!r} -> {fix['written']!r} ({fix['rule']})")
        for name, span in recovered:
            print(f"  {name}: {span['start']:.1f}-{span['end']:.1f} s: {span['note']}")
    if "raw batched 8" in results and "pipeline (defaults)" in results:
        ratio = results["pipeline (defaults)"][0] / results["raw batched 8"][0]
        print(f"\npipeline / raw batched wall-time ratio: {ratio:.3f} (target <= 1.10)")
    if args.overhead:
        overhead()


def overhead() -> None:
    """Fixed cost per recording: the short source clips (those the pipeline accepts: at least
    1 s), raw batched vs `pipeline transcribe`, each in one process over all of them."""
    clips = [
        p for p in sorted((SHARED / "conversations-fr-dev" / "sources").rglob("*.flac")) if devdata.load(p).shape[0] >= 1.5 * devdata.SR
    ]
    with tempfile.TemporaryDirectory() as tmp:
        raw_wall, _ = raw(clips, {"language": "fr", "beam_size": 5, "batch_size": 8}, batched=True)
        product_wall, _ = product(clips, Path(tmp), [])
    print(
        f"\n{len(clips)} short clips: raw batched {raw_wall:.1f} s, pipeline {product_wall:.1f} s: "
        f"{(product_wall - raw_wall) / len(clips):+.2f} s per recording (target <= 0.5)"
    )


if __name__ == "__main__":
    main()
