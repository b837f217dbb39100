"""Voice embeddings: Resemblyzer's GE2E speaker encoder, run in NumPy, offline; and the
encoders the speakers stage uses together (:class:`VoiceModels`, with :mod:`pipeline.campplus`).

The weights (``pretrained.pt``, 17 MB, Apache-2.0) ship inside the ``Resemblyzer`` wheel on
PyPI. That package needs PyTorch (a CUDA build of several GB by default); the encoder is a
three-layer LSTM of 256 units and a linear layer, small enough to run in NumPy, so only the
weights are used: ``pip install --no-deps resemblyzer==0.1.4`` (done by ``make setup``). The
legacy PyTorch file is read without PyTorch, the log-free mel spectrogram is computed as
librosa does, and the embeddings match Resemblyzer's own (checked: README, « Speakers »).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import torchfile
from .vectors import unit_rows

if TYPE_CHECKING:
    from .campplus import CamPlusPlus

SAMPLING_RATE = 16_000
WINDOW_FRAMES = 160
"""Frames (10 ms) in one partial utterance: 1.6 s, as Resemblyzer's encoder was trained."""
N_FFT = 400
HOP = 160
N_MELS = 40
BATCH = 128
"""Windows embedded in one call (one call per core at a time)."""
WEIGHTS_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
WEIGHTS_VERSION = "Resemblyzer 0.1.4 pretrained.pt (GE2E, 256-d)"
INSTALL = "run `make setup`, or `pip install --no-deps resemblyzer==0.1.4` (only its weights are used)"


def weights_path() -> Path:
    """Where the installed Resemblyzer package keeps its weights (it is never imported)."""
    return torchfile.packaged("resemblyzer", "pretrained.pt", "the GE2E voice encoder's", INSTALL)


def load_weights(path: Path) -> dict[str, np.ndarray]:
    """The encoder's parameters by name, checked against the pinned SHA-256."""
    return torchfile.verified_state(path, WEIGHTS_SHA256, INSTALL, key="model_state")


def _mel_filters() -> np.ndarray:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40): Slaney scale and norm."""

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        f = np.asarray(f, dtype=np.float64)
        linear = f / (200.0 / 3)
        return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), linear)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, dtype=np.float64)
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), (200.0 / 3) * m)

    fft_freqs = np.linspace(0, SAMPLING_RATE / 2, 1 + N_FFT // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(SAMPLING_RATE / 2)), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    weights = np.zeros((N_MELS, len(fft_freqs)))
    for i in range(N_MELS):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : N_MELS + 2] - mel_f[:N_MELS]))[:, None]
    return weights.astype(np.float32)


_FILTERS = _mel_filters()
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """Power mel spectrogram, frames × 40 (as librosa.feature.melspectrogram, centred frames)."""
    padded = np.pad(wav.astype(np.float32), N_FFT // 2)
    count = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(padded, shape=(count, N_FFT), strides=(padded.strides[0] * HOP, padded.strides[0]))
    spectrum = np.abs(np.fft.rfft(frames * _WINDOW, axis=1)) ** 2
    return np.asarray(spectrum.astype(np.float32) @ _FILTERS.T, dtype=np.float32)


def mel_frames(audio: np.ndarray, first: int, count: int = WINDOW_FRAMES, gain: float = 1.0) -> np.ndarray:
    """Frames ``first`` to ``first + count`` of the mel spectrogram of the whole ``audio``,
    computed from the samples they need only (equal to slicing :func:`mel_spectrogram`), so
    that memory does not grow with the recording's length. ``gain`` scales the audio."""
    gain *= full_scale(audio)
    start = first * HOP - N_FFT // 2
    stop = start + (count - 1) * HOP + N_FFT
    clip = np.zeros(stop - start, dtype=np.float32)
    low, high = max(start, 0), min(stop, len(audio))
    if high > low:
        clip[low - start : high - start] = audio[low:high]
    frames = np.lib.stride_tricks.as_strided(clip, shape=(count, N_FFT), strides=(clip.strides[0] * HOP, clip.strides[0]))
    spectrum = np.abs(np.fft.rfft(frames * _WINDOW, axis=1)) ** 2 * gain**2
    return np.asarray(spectrum.astype(np.float32) @ _FILTERS.T, dtype=np.float32)


def full_scale(audio: np.ndarray) -> float:
    """What one unit of ``audio`` is in [-1, 1]: 16-bit samples are scaled window by window, so
    that a recording is never held as float too (powers of two: the same numbers either way)."""
    return 1 / 32768 if audio.dtype == np.int16 else 1.0


def volume_gain(wav: np.ndarray, target_dbfs: float = -30.0) -> float:
    """The factor that raises quiet audio to ``target_dbfs`` (never lowers it), as
    Resemblyzer prepares audio (applied per window, not to a copy of the recording)."""
    block = 1 << 20  # summed a block at a time: a one-hour recording is never copied whole
    total = sum(
        float(np.dot(part, part)) for part in (wav[i : i + block].astype(np.float64) * full_scale(wav) for i in range(0, len(wav), block))
    )
    rms = float(np.sqrt(total / len(wav))) if len(wav) else 0.0
    if rms <= 0:
        return 1.0
    change = target_dbfs - 20 * np.log10(rms)
    return 1.0 if change < 0 else float(10 ** (change / 20))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)))


@dataclass(frozen=True)
class VoiceEncoder:
    """GE2E: three LSTM layers (256), a linear layer, ReLU, L2 norm; 256-d embeddings.
    ``int8``: the later LSTM layers in int8 (:func:`pipeline.voice_graphs.ge2e_graph`)."""

    weights: Mapping[str, np.ndarray]
    int8: bool = True

    @classmethod
    def load(cls, path: Path | None = None, int8: bool = True) -> VoiceEncoder:
        """The encoder with the installed weights, read and verified when first needed."""
        found = path or weights_path()
        return cls(torchfile.LazyState(lambda: load_weights(found)), int8)

    @functools.cached_property
    def _graph(self) -> Any:
        from .voice_graphs import encoder_session, ge2e_graph

        return encoder_session("ge2e", WEIGHTS_SHA256, lambda: ge2e_graph(self.weights), self.int8)

    def embed(self, mels: np.ndarray, release: bool = False) -> np.ndarray:
        """Embeddings of a batch of spectrograms (batch × frames × 40) -> batch × 256, by the
        ONNX graph of this network (:mod:`pipeline.voice_graphs`: in float, the same numbers as
        :meth:`embed_reference`, four times faster; in int8, 1.8 times faster again);
        ``release``: the last batches, after which the graph's working memory goes back."""
        from .voice_graphs import run

        return unit_rows(run(self._graph, {"mels": np.asarray(mels, dtype=np.float32)}, release))

    def embed_reference(self, mels: np.ndarray) -> np.ndarray:
        """Embeddings of a batch of spectrograms (batch × frames × 40) -> batch × 256, in
        NumPy: the readable reference the graph is checked against."""
        x = mels.astype(np.float32)
        batch, steps, _ = x.shape
        layer = 0
        while f"lstm.weight_ih_l{layer}" in self.weights:
            w_ih, w_hh = self.weights[f"lstm.weight_ih_l{layer}"], self.weights[f"lstm.weight_hh_l{layer}"]
            bias = self.weights[f"lstm.bias_ih_l{layer}"] + self.weights[f"lstm.bias_hh_l{layer}"]
            hidden = w_hh.shape[1]
            projected = x @ w_ih.T + bias  # every step's input projection in one product
            h = np.zeros((batch, hidden), dtype=np.float32)
            c = np.zeros((batch, hidden), dtype=np.float32)
            outputs = np.empty((batch, steps, hidden), dtype=np.float32)
            for t in range(steps):
                gates = projected[:, t] + h @ w_hh.T
                i, f, g, o = (gates[:, k * hidden : (k + 1) * hidden] for k in range(4))
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                h = _sigmoid(o) * np.tanh(c)
                outputs[:, t] = h
            x = outputs
            layer += 1
        return unit_rows(np.maximum(h @ self.weights["linear.weight"].T + self.weights["linear.bias"], 0.0))

    def embed_pieces(
        self, audio: np.ndarray, pieces: Sequence[tuple[float, float]], hop: float, progress: Callable[[float], None] | None = None
    ) -> np.ndarray:
        """One L2-normed embedding per piece: the mean of its 1.6-s windows, one every
        ``hop`` seconds (a short piece gets one window centred on it). Windows are made and
        embedded a batch at a time: memory does not grow with the recording's length."""
        gain = volume_gain(audio)
        frames_per_second = 100
        last = max(len(audio) * frames_per_second // SAMPLING_RATE - WINDOW_FRAMES, 0)
        places: list[tuple[int, int]] = []  # (piece, first frame)
        for index, (start, end) in enumerate(pieces):
            count = max(1, int(round((end - start) / hop)))
            centre_step = (end - start) / count
            for k in range(count):
                centre = start + (k + 0.5) * centre_step
                first = int(round(centre * frames_per_second)) - WINDOW_FRAMES // 2
                places.append((index, min(max(first, 0), last)))
        from .voice_graphs import cores, side_by_side

        embeddings = np.zeros((len(pieces), 256), dtype=np.float32)
        batch = max(1, min(BATCH, -(-len(places) // cores())))  # every core busy on a short recording
        chunks = [places[offset : offset + batch] for offset in range(0, len(places), batch)]

        def work(chunk: list[tuple[int, int]], last: bool) -> np.ndarray:
            return self.embed(np.stack([mel_frames(audio, first, WINDOW_FRAMES, gain) for _, first in chunk]), release=last)

        done = 0
        for chunk, vectors in zip(chunks, side_by_side(work, chunks), strict=True):
            np.add.at(embeddings, np.array([owner for owner, _ in chunk]), vectors)
            done += len(chunk)
            if progress:
                progress(done / len(places))
        return unit_rows(embeddings)


def encoder_id(name: str) -> str:
    """What identifies an encoder choice in fingerprints and voiceprints: its weights."""
    from . import campplus

    shas = {"ge2e": WEIGHTS_SHA256, "campplus": campplus.WEIGHTS_SHA256}
    return "+".join(f"{part}:{shas[part]}" for part in name.split("+"))


def encoder_versions(name: str) -> str:
    """The encoders' names and versions, for provenance."""
    from . import campplus

    versions = {"ge2e": WEIGHTS_VERSION, "campplus": campplus.WEIGHTS_VERSION}
    return " + ".join(versions[part] for part in name.split("+"))


@dataclass(frozen=True)
class VoiceModels:
    """The encoders of one choice (``ge2e``, ``campplus`` or both). With both, a piece's
    vector is the two L2-normed embeddings side by side, each scaled by 1/√2: its cosine
    with another is the mean of the two encoders' cosines."""

    ge2e: VoiceEncoder | None = None
    campplus: CamPlusPlus | None = None

    @classmethod
    def load(cls, name: str = "ge2e+campplus", int8: bool = True) -> VoiceModels:
        """The encoders of ``name``; ``int8``: their large layers in int8 (the default: measured
        as accurate as float on the dev files, README « Speakers »), else all in float."""
        from .campplus import CamPlusPlus

        parts = name.split("+")
        return cls(VoiceEncoder.load(int8=int8) if "ge2e" in parts else None, CamPlusPlus.load(int8=int8) if "campplus" in parts else None)

    def embed_pieces(
        self, audio: np.ndarray, pieces: Sequence[tuple[float, float]], options: Any, progress: Callable[[float], None] | None = None
    ) -> np.ndarray:
        """One L2-normed vector per piece of speech (seconds) of ``audio`` (float samples, or
        16-bit ones, which the encoders scale window by window). ``progress`` hears the share
        of the work done (0 to 1; CAM++ weighs three times GE2E, as measured)."""
        weights = {"ge2e": 1.0 if self.ge2e is not None else 0.0, "campplus": 3.0 if self.campplus is not None else 0.0}
        total = sum(weights.values())
        ge2e_share, campplus_share = weights["ge2e"] / total, weights["campplus"] / total

        def part(offset: float, share: float) -> Callable[[float], None] | None:
            return (lambda done: progress(offset + share * done)) if progress else None

        parts = []
        if self.ge2e is not None:
            parts.append(self.ge2e.embed_pieces(audio, pieces, options.hop, part(0.0, ge2e_share)))
        if self.campplus is not None:
            parts.append(
                self.campplus.embed_pieces(audio, pieces, options.window, part(ge2e_share, campplus_share), hop=options.window_hop)
            )
        return unit_rows(np.concatenate(parts, axis=1))
