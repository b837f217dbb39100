"""The review report as a detector of transcription errors, on the dev files with references.

For each file, Whisper's words (the pipeline's ``asr.json``, cached by ``bench_speakers.py``
in ``benchmarks/.data/asr``; ej-fra and the Asterisk file are transcribed here when missing)
are aligned with the reference (difflib on normalised words). Each error gets a moment: a
substituted or inserted word, its own middle; a deleted reference word is found when a word on
either side of it is flagged (the editor listens there). Reported, over all files:

- recall: the share of errors whose moment falls inside a flagged span;
- flagged: the share of hypothesis words inside a flagged span;

for the report's defaults with the doubt model fitted on the other files (leave one file out:
the shipped model was fitted on all ten, so scoring it here would be in sample), for each kind
of flag alone, for the rule before the model (a bound on Whisper's word probability, swept), and
for two baselines at the same flagged share: flagging words at random (recall = share on
average), and flagging whole segments by Whisper's average log-probability, worst first (what a
reviewer would do with segment confidence alone).

    python benchmarks/bench_review.py
"""

from __future__ import annotations

import difflib
import json
import random
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import devdata  # noqa: E402
from bench_longform import dev_files  # noqa: E402
from review_layer import fit, labelled  # noqa: E402

from pipeline import transcript as transcript_io  # noqa: E402
from pipeline.evaluation import normalize  # noqa: E402
from pipeline.review import Flag, ReviewOptions, covered, flagged_share, review  # noqa: E402

CACHE = ROOT / "benchmarks" / ".data" / "asr"
KNOWN = ["Camille Durand", "Julien Moreau"]  # the catalogue the long-form bench gives every file


def decoded(audio: Path) -> transcript_io.Transcript:
    cached = CACHE / f"{audio.stem}.json"
    if not cached.exists():
        from pipeline.catalogue import slugify

        with tempfile.TemporaryDirectory() as tmp:
            command = [sys.executable, "-m", "pipeline", "transcribe", str(audio), "--catalogue", tmp, "--outputs", tmp, "--no-speakers"]
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
            data = json.loads((Path(tmp) / slugify(audio.stem) / "asr.json").read_text(encoding="utf-8"))
        data["bench_transcription_seconds"] = 0.0
        CACHE.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return transcript_io.from_dict(json.loads(cached.read_text(encoding="utf-8")))


def error_moments(transcript: transcript_io.Transcript, reference: str) -> list[tuple[float, ...]]:
    """The moments of each word error: a substituted or inserted word's middle; for a
    deleted reference word, the middles of the two hypothesis words around it."""
    hypothesis: list[tuple[str, float]] = []
    for segment in transcript.segments:
        for word in segment.words:
            for part in normalize(word.word).split():
                hypothesis.append((part, (word.start + word.end) / 2))
    ref = normalize(reference).split()
    moments = []
    matcher = difflib.SequenceMatcher(None, [h for h, _ in hypothesis], ref, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        here = [(hypothesis[i][1],) for i in range(i1, i2)]
        if not here:  # deletion: found when a word on either side of it is flagged
            before = hypothesis[i1 - 1][1] if i1 else hypothesis[0][1]
            after = hypothesis[i1][1] if i1 < len(hypothesis) else before
            here = [(before, after)]
        count = max(i2 - i1, j2 - j1)
        moments += [here[min(k, len(here) - 1)] for k in range(count)]
    return moments


def segment_baseline(transcript: transcript_io.Transcript, share: float) -> list[Flag]:
    """Whole segments, lowest average log-probability first, until ``share`` of the words."""
    total = sum(len(s.words) for s in transcript.segments) or 1
    flags, taken = [], 0
    for segment in sorted(transcript.segments, key=lambda s: s.avg_logprob):
        if taken / total >= share:
            break
        flags.append(Flag(segment.start, segment.end, "segment", ""))
        taken += len(segment.words)
    return flags


def random_baseline(transcript: transcript_io.Transcript, share: float, seed: int) -> list[Flag]:
    rng = random.Random(seed)
    return [Flag(w.start, w.end, "random", "") for s in transcript.segments for w in s.words if rng.random() < share]


def score(data: list[tuple[transcript_io.Transcript, list[tuple[float, ...]]]], flagger) -> tuple[float, float, int]:
    caught = errors = flagged_words = words = 0
    for transcript, moments in data:
        flags = flagger(transcript)
        caught += sum(1 for m in moments if any(covered(t, flags) for t in m))
        errors += len(moments)
        count = sum(len(s.words) for s in transcript.segments)
        flagged_words += round(flagged_share(transcript, flags) * count)
        words += count
    return caught / max(errors, 1), flagged_words / max(words, 1), errors


def dev_data() -> list[tuple[transcript_io.Transcript, list[tuple[float, ...]]]]:
    """Each dev file's decoding and the moments of its word errors (empty without the data)."""
    if not devdata.available():
        return []
    data = []
    for audio, ref in dev_files():
        transcript = decoded(audio)
        data.append((transcript, error_moments(transcript, ref.read_text(encoding="utf-8"))))
    return data


def held_out_models(data) -> dict[int, object]:
    """For each file, the doubt model fitted on the other files."""
    rows = [labelled(t, m) for t, m in data]
    models = {}
    for index in range(len(data)):
        others = [r for k, r in enumerate(rows) if k != index]
        models[id(data[index][0])] = fit(np.vstack([r[0] for r in others]), np.concatenate([r[1] for r in others]))
    return models


def main() -> None:
    data = dev_data()
    if not data:
        print("../shared/data is absent: nothing to measure")
        return
    models = held_out_models(data)
    words = sum(len(s.words) for t, _ in data for s in t.segments)
    print(f"{len(data)} files, {words} words, {sum(len(m) for _, m in data)} word errors\n")
    print(f"{'flags':52}{'recall %':>10}{'flagged %':>11}")
    defaults = ReviewOptions()

    def report(options: ReviewOptions, kind: str = ""):
        return lambda t: [f for f in review(t, KNOWN, options, models[id(t)]) if not kind or f.kind == kind]

    recall, share, _ = score(data, report(defaults))
    print(f"{'report, defaults (doubt model, leave one file out)':52}{recall * 100:10.1f}{share * 100:11.1f}")
    for kind in ("doubt", "loop", "no-speech", "lost", "number", "name"):
        r, s, _ = score(data, report(defaults, kind))
        print(f"{'  ' + kind + ' alone':52}{r * 100:10.1f}{s * 100:11.1f}")
    r, s, _ = score(data, lambda t: list(review(t, KNOWN, defaults)))
    print(f"{'report, shipped model (in sample, not a figure)':52}{r * 100:10.1f}{s * 100:11.1f}")
    for bound in (0.5, 0.6, 0.7, 0.72, 0.75, 0.8):
        options = replace(defaults, min_probability=bound)
        r, s, _ = score(data, lambda t, o=options: list(review(t, KNOWN, o)))
        print(f"{f'rule before: Whisper probability < {bound}':52}{r * 100:10.1f}{s * 100:11.1f}")
    r, s, _ = score(data, lambda t: segment_baseline(t, share))
    print(f"{'baseline: worst segments (avg_logprob)':52}{r * 100:10.1f}{s * 100:11.1f}")
    runs = [score(data, lambda t, seed=seed: random_baseline(t, share, seed)) for seed in range(5)]
    print(
        f"{'baseline: random words (5 seeds)':52}{sum(r for r, _, _ in runs) / 5 * 100:10.1f}{sum(s for _, s, _ in runs) / 5 * 100:11.1f}"
    )


if __name__ == "__main__":
    main()
