"""Long-form, multi-speaker French dev files built from ``../shared/data`` (never committed).

Real human speech only, no text-to-speech. Sources:

- ``conversations-fr-dev/sources``: 43 clips, 13 speakers (Common Voice fr, LibriVox), each
  with its human transcript and speaker label;
- ``speech-fr-dev/asterisk-fr-june-concat.flac``: 240 prompts by one speaker, cut at its
  0.7-s gaps (exactly 239 silences >= 0.5 s) so each prompt keeps its own reference line;
- ``speech-fr-dev/ej-fra.m4a``: one 34-s monologue.

``longform``: a 12-minute « webinar »: a moderator (the Asterisk speaker) reads blocks of
prompts, and the 14 other speakers take turns between them; real pauses (0.3-2.5 s), an
opening and closing jingle (tones), a stretch of applause-like noise and 8 s of room tone
(off-topic stretches without speech). ``mixNN``: shorter panels (moderator + 2 to 5
speakers) for speaker attribution. Each file comes with ``.ref.txt`` (one turn per line),
``.rttm`` (speaker turns) and ``.segments.jsonl`` (turns with speaker, start, end, text).

    python benchmarks/devdata.py [--out DIR]      # builds everything (deterministic)
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
CONVERSATIONS = SHARED / "conversations-fr-dev"
SPEECH = SHARED / "speech-fr-dev"
DEFAULT_OUT = ROOT / "benchmarks" / ".data"
SR = 16_000
TARGET_DBFS = -23.0
ROOM_TONE_DBFS = -62.0
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Piece:
    """A stretch of the mix: audio, its speaker (None for non-speech) and its text."""

    audio: np.ndarray
    speaker: str | None
    text: str


def available() -> bool:
    """True when the shared dev data is there."""
    return (CONVERSATIONS / "sources" / "manifest.json").exists() and (SPEECH / "asterisk-fr-june-concat.flac").exists()


def load(path: Path) -> np.ndarray:
    """Any audio file as 16 kHz mono float64."""
    from pipeline.media import ffmpeg_executable

    raw = subprocess.run(
        [ffmpeg_executable(), "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(SR), "-f", "f32le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype=np.float32).astype(np.float64)


def write_flac(path: Path, audio: np.ndarray) -> None:
    """16-bit FLAC, 16 kHz mono."""
    from pipeline.media import ffmpeg_executable

    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [ffmpeg_executable(), "-v", "error", "-y", "-f", "s16le", "-ar", str(SR), "-ac", "1", "-i", "-", "-c:a", "flac", str(path)],
        input=pcm,
        check=True,
    )


def frame_db(audio: np.ndarray, frame: float = 0.02) -> np.ndarray:
    n = int(frame * SR)
    k = len(audio) // n
    return 10 * np.log10(np.maximum((audio[: k * n].reshape(k, n) ** 2).mean(1), 1e-12))


def trim(audio: np.ndarray, pad: float = 0.15) -> np.ndarray:
    """The speech span of a clip (energy above max-45 dB and floor+8 dB), with a margin."""
    energy = frame_db(audio)
    threshold = max(energy.max() - 45.0, np.percentile(energy, 10) + 8.0)
    active = np.where(np.convolve((energy > threshold).astype(int), np.ones(3, int), "valid") == 3)[0]
    if not len(active):
        return audio
    n = int(0.02 * SR)
    return audio[max(0, active[0] * n - int(pad * SR)) : min(len(audio), (active[-1] + 3) * n + int(pad * SR))]


def normalise(audio: np.ndarray) -> np.ndarray:
    """Active speech RMS at -23 dBFS, 1 dB of headroom."""
    energy = frame_db(audio)
    active = energy > energy.max() - 30
    level = 10 * np.log10(np.mean(10 ** (energy[active] / 10)))
    out = audio * 10 ** ((TARGET_DBFS - level) / 20)
    peak = np.abs(out).max()
    return out * (0.89 / peak) if peak > 0.89 else out


def asterisk_prompts() -> list[Piece]:
    """The 240 Asterisk prompts, cut at the 239 silences of >= 0.5 s between them."""
    audio = load(SPEECH / "asterisk-fr-june-concat.flac")
    lines = [line.strip() for line in (SPEECH / "asterisk-fr-june-concat.ref.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    hop = 160
    energy = 20 * np.log10(np.sqrt(np.mean(audio[: len(audio) // hop * hop].reshape(-1, hop) ** 2, axis=1)) + 1e-9)
    silent = energy < np.percentile(energy, 95) - 45
    gaps, start = [], None
    for i, quiet in enumerate(silent):
        if quiet and start is None:
            start = i
        elif not quiet and start is not None:
            if (i - start) * hop / SR >= 0.5:
                gaps.append((start * hop, i * hop))
            start = None
    if len(gaps) != len(lines) - 1:
        raise SystemExit(f"asterisk: found {len(gaps)} gaps for {len(lines)} prompts")
    bounds = [0, *(x for gap in gaps for x in gap), len(audio)]
    return [Piece(normalise(trim(audio[bounds[2 * i] : bounds[2 * i + 1]])), "june", lines[i]) for i in range(len(lines))]


def source_clips() -> dict[str, list[Piece]]:
    """The conversation sources by speaker, in manifest order."""
    manifest = json.loads((CONVERSATIONS / "sources" / "manifest.json").read_text(encoding="utf-8"))
    clips: dict[str, list[Piece]] = {}
    for entry in manifest:
        audio = normalise(trim(load(CONVERSATIONS / "sources" / entry["file"])))
        clips.setdefault(entry["speaker"], []).append(Piece(audio, entry["speaker"], entry["text"]))
    return clips


def ej_fra() -> Piece:
    text = (SPEECH / "ej-fra.ref.txt").read_text(encoding="utf-8").strip()
    return Piece(normalise(trim(load(SPEECH / "ej-fra.m4a"))), "eric", text)


def jingle(seconds: float, rng: random.Random) -> Piece:
    """Music-like tones (a chord with a slow tremolo): non-speech."""
    t = np.arange(int(seconds * SR)) / SR
    base = rng.choice([220.0, 246.9, 261.6])
    chord = sum(np.sin(2 * np.pi * base * ratio * t) for ratio in (1.0, 1.25, 1.5, 2.0))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 0.5 * t) ** 2
    fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.5)
    return Piece(0.05 * chord * envelope * fade, None, "")


def applause(seconds: float, rng: random.Random) -> Piece:
    """Dense short noise bursts, like clapping: non-speech."""
    n = int(seconds * SR)
    out = np.zeros(n)
    noise = np.random.default_rng(rng.randrange(1 << 30))
    for _ in range(int(seconds * 40)):
        start = noise.integers(0, n - 800)
        burst = noise.normal(0, 1, 800) * np.exp(-np.arange(800) / 120)
        out[start : start + 800] += burst * noise.uniform(0.02, 0.08)
    fade = np.minimum(1.0, np.minimum(np.arange(n), n - np.arange(n)) / (0.8 * SR))
    return Piece(out * fade, None, "")


def silence(seconds: float) -> Piece:
    return Piece(np.zeros(int(seconds * SR)), None, "")


def mix(pieces: list[Piece], rng: random.Random, name: str, out: Path) -> dict[str, object]:
    """Join pieces with pauses (0.3-2.5 s after a turn), add room tone, write the files.
    Consecutive pieces of one speaker form one turn (0.2-0.5 s pauses inside)."""
    parts: list[np.ndarray] = []
    turns: list[dict[str, object]] = []
    cursor = 0
    for index, piece in enumerate(pieces):
        if index:
            same = piece.speaker is not None and piece.speaker == pieces[index - 1].speaker
            pause = rng.uniform(0.2, 0.5) if same else rng.uniform(0.3, 2.5)
            parts.append(np.zeros(int(pause * SR)))
            cursor += int(pause * SR)
        start, end = cursor / SR, (cursor + len(piece.audio)) / SR
        if piece.speaker is not None:
            last = turns[-1] if turns else None
            if last and last["speaker"] == piece.speaker and pieces[index - 1].speaker == piece.speaker:
                last["end"] = round(end, 3)
                last["text"] = f"{last['text']} {piece.text}"
                last["clips"].append([round(start, 3), round(end, 3)])  # type: ignore[attr-defined]
            else:
                turns.append(
                    {
                        "speaker": piece.speaker,
                        "start": round(start, 3),
                        "end": round(end, 3),
                        "text": piece.text,
                        "clips": [[round(start, 3), round(end, 3)]],
                    }
                )
        parts.append(piece.audio)
        cursor += len(piece.audio)
    audio = np.concatenate(parts)
    audio += np.random.default_rng(7).normal(0, 10 ** (ROOM_TONE_DBFS / 20), len(audio))
    write_flac(out / f"{name}.flac", audio)
    (out / f"{name}.ref.txt").write_text("".join(f"{t['text']}\n" for t in turns), encoding="utf-8")
    rttm = [
        f"SPEAKER {name} 1 {a:.3f} {b - a:.3f} <NA> <NA> {t['speaker']} <NA> <NA>\n"
        for t in turns
        for a, b in t["clips"]  # type: ignore[attr-defined]
    ]
    (out / f"{name}.rttm").write_text("".join(rttm), encoding="utf-8")
    (out / f"{name}.segments.jsonl").write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in turns), encoding="utf-8")
    speakers = sorted({str(t["speaker"]) for t in turns})
    return {"file": f"{name}.flac", "seconds": round(len(audio) / SR, 1), "speakers": len(speakers), "turns": len(turns)}


def longform(prompts: list[Piece], clips: dict[str, list[Piece]], guest: Piece, rng: random.Random) -> list[Piece]:
    """Moderator blocks (2-5 prompts) between the guests' turns (1-3 clips each), all 43 clips
    and the monologue used once, with off-topic stretches."""
    turns: list[list[Piece]] = []
    for speaker_clips in clips.values():
        queue = list(speaker_clips)
        while queue:
            size = min(len(queue), rng.randint(1, 3))
            turns.append(queue[:size])
            queue = queue[size:]
    rng.shuffle(turns)
    turns.insert(len(turns) // 3, [guest])
    pieces = [jingle(6.0, rng), silence(1.5)]
    prompt_iter = iter(prompts)
    for number, turn in enumerate(turns):
        pieces += [next(prompt_iter) for _ in range(rng.randint(2, 5))]
        pieces += turn
        if number == len(turns) // 2:
            pieces += [applause(20.0, rng), silence(8.0)]
    pieces += [next(prompt_iter) for _ in range(4)]
    pieces += [applause(8.0, rng), jingle(5.0, rng)]
    return pieces


def panels(prompts: list[Piece], clips: dict[str, list[Piece]], rng: random.Random) -> list[list[Piece]]:
    """Panels for speaker attribution: a moderator (the Asterisk speaker) and 2 to 5 guests
    who each speak several times; no clip or prompt is used twice across panels."""
    speakers = sorted(clips, key=lambda s: -sum(len(p.audio) for p in clips[s]))
    groups = [speakers[0:2], speakers[2:5], speakers[5:9], speakers[9:13]]
    prompt_iter = iter(prompts[100:])
    result = []
    for group in groups:
        queues = {s: list(clips[s]) for s in group}
        pieces = [jingle(4.0, rng)]
        pieces += [next(prompt_iter) for _ in range(3)]
        while any(queues.values()):
            for speaker in group:
                if queues[speaker]:
                    pieces.append(queues[speaker].pop(0))
                    pieces += [next(prompt_iter) for _ in range(rng.randint(1, 2))]
        pieces += [applause(5.0, rng)]
        result.append(pieces)
    return result


def build(out: Path = DEFAULT_OUT) -> list[dict[str, object]]:
    """Build every dev file into ``out``; returns a line of facts per file."""
    if not available():
        raise SystemExit(f"dev data not found under {SHARED}")
    out.mkdir(parents=True, exist_ok=True)
    prompts, clips, guest = asterisk_prompts(), source_clips(), ej_fra()
    facts = [mix(longform(prompts, clips, guest, random.Random(2026)), random.Random(11), "longform", out)]
    for number, panel in enumerate(panels(prompts, clips, random.Random(5)), start=1):
        facts.append(mix(panel, random.Random(100 + number), f"mix{number:02d}", out))
    (out / "README.txt").write_text(
        "Built by benchmarks/devdata.py from ../shared/data (real speech, see that module). Do not commit.\n", encoding="utf-8"
    )
    return facts


def ensure(out: Path = DEFAULT_OUT) -> Path:
    """Build the dev files once (they are deterministic); return their folder."""
    if not (out / "longform.flac").exists() or not (out / "mix04.segments.jsonl").exists():
        build(out)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    for fact in build(parser.parse_args().out):
        print(fact)
