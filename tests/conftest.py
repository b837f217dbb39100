"""Shared fixtures: media files made with the real ffmpeg, a fake transcriber."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from pipeline.media import SAMPLING_RATE, ffmpeg_executable
from pipeline.models import ResolvedModel
from pipeline.transcribe import Decoded, EngineInfo
from pipeline.transcript import Segment, Word

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "recordings" / "2022-03-17-sobriete.mp4"
SAMPLE_TEXT = ROOT / "recordings" / "2022-03-17-sobriete.txt"
SHARED_DATA = ROOT.parent / "shared" / "data"


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_executable(), "-v", "error", "-nostdin", "-y", *args], check=True)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Good and bad recordings, made once per test session."""
    folder = tmp_path_factory.mktemp("media")
    ffmpeg("-i", str(SAMPLE), "-t", "6", "-vn", "-c:a", "aac", str(folder / "good.m4a"))
    (folder / "empty.wav").write_bytes(b"")
    (folder / "notes.mp3").write_text("Ceci n'est pas un enregistrement.\n", encoding="utf-8")
    data = SAMPLE.read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) * 2 // 5])
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=64x64:r=5", "-t", "2", "-c:v", "libx264", str(folder / "video-only.mp4"))
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0.2", str(folder / "silence.wav"))
    return folder


def sample_reference() -> str:
    """The source text of the bundled sample, without roles or comments."""
    lines = SAMPLE_TEXT.read_text(encoding="utf-8").splitlines()
    return " ".join(line.split("|", 1)[1] for line in lines if "|" in line and not line.startswith("#"))


def make_segments(texts: list[str], start: float = 0.0, step: float = 4.0) -> list[Segment]:
    """Segments with evenly spaced word timestamps, as Whisper would give them."""
    segments = []
    for index, text in enumerate(texts):
        begin = start + index * step
        tokens = text.split()
        per_word = (step - 0.5) / max(len(tokens), 1)
        words = tuple(
            Word(start=round(begin + i * per_word, 3), end=round(begin + (i + 1) * per_word, 3), word=" " + token, probability=0.9)
            for i, token in enumerate(tokens)
        )
        segments.append(Segment(id=index, start=begin, end=round(begin + step - 0.5, 3), text=text, words=words, avg_logprob=-0.2))
    return segments


@dataclass
class FakeTranscriber:
    """Returns prepared segments; records what it was asked."""

    texts: list[str] = field(
        default_factory=lambda: ["Bonjour à toutes et à tous.", "La sobriété numérique commence par une question simple."]
    )
    calls: list[int] = field(default_factory=list)
    redecoded: list[int] = field(default_factory=list)
    speech: list[tuple[float, float]] | None = None
    """What the fake VAD finds in any clip (None: no speech)."""
    redecode_texts: list[str] = field(default_factory=list)
    info: EngineInfo = field(
        default_factory=lambda: EngineInfo(
            model=ResolvedModel(id="fake", path=Path("/fake"), sha256={"model.bin": "0" * 64}),
            faster_whisper_version="fake",
            ctranslate2_version="fake",
        )
    )

    def decode(self, audio: np.ndarray) -> Decoded:
        self.calls.append(len(audio))
        duration = len(audio) / SAMPLING_RATE
        step = duration / max(len(self.texts), 1)
        segments: Iterator[Segment] = iter(make_segments(self.texts, step=step))
        return Decoded(language="fr", language_probability=1.0, segments=segments)

    def redecode(self, clips: Sequence[np.ndarray]) -> list[list[Segment]]:
        found = []
        for audio in clips:
            self.redecoded.append(len(audio))
            duration = len(audio) / SAMPLING_RATE
            texts = self.redecode_texts
            found.append(make_segments(texts, step=duration / max(len(texts), 1)) if texts else [])
        return found

    def find_speech(self, audio: np.ndarray) -> list[tuple[float, float]]:
        duration = len(audio) / SAMPLING_RATE
        return [(a, min(b, duration)) for a, b in self.speech or [] if a < duration]


@pytest.fixture
def fake_transcriber() -> FakeTranscriber:
    return FakeTranscriber()


@pytest.fixture(scope="session")
def nlp():
    """spaCy's French pipeline, loaded once for the whole test session."""
    from pipeline.keywords import load_nlp

    return load_nlp()


@pytest.fixture(scope="session")
def themes():
    """The programme's themes, as the bundled catalogue has them."""
    from pipeline.catalogue import load_themes

    return load_themes(ROOT / "recordings" / "themes.toml")


_WHISPER: dict[object, object] = {}


@pytest.fixture(autouse=True)
def shared_models(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Commands run in-process share one spaCy pipeline and one Whisper model per options
    (loading them costs seconds; what they compute does not depend on who loaded them)."""
    import pipeline.cli as cli_module
    from pipeline.transcribe import WhisperFactory

    monkeypatch.setattr(cli_module, "load_nlp", lambda: request.getfixturevalue("nlp"))

    class SharedWhisper(WhisperFactory):
        def __call__(self):  # type: ignore[override]
            key = (self.options, self.engine)
            if key not in _WHISPER:
                _WHISPER[key] = super().__call__()
            return _WHISPER[key]

    monkeypatch.setattr(cli_module, "WhisperFactory", SharedWhisper)
