"""Voice embeddings: Resemblyzer's GE2E speaker encoder, run in NumPy, offline.

The weights (``pretrained.pt``, 17 MB, Apache-2.0) ship inside the ``Resemblyzer`` wheel on
PyPI. That package needs PyTorch (a CUDA build of several GB by default); the encoder is a
three-layer LSTM of 256 units and a linear layer, small enough to run in NumPy, so only the
weights are used: ``pip install --no-deps resemblyzer==0.1.4`` (done by ``make setup``). The
legacy PyTorch file is read without PyTorch, the log-free mel spectrogram is computed as
librosa does, and the embeddings match Resemblyzer's own (checked: README, « Speakers »).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import pickle
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError

SAMPLING_RATE = 16_000
WINDOW_FRAMES = 160
"""Frames (10 ms) in one partial utterance: 1.6 s, as Resemblyzer's encoder was trained."""
N_FFT = 400
HOP = 160
N_MELS = 40
WEIGHTS_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
WEIGHTS_VERSION = "Resemblyzer 0.1.4 pretrained.pt (GE2E, 256-d)"
INSTALL = "run `make setup`, or `pip install --no-deps resemblyzer==0.1.4` (only its weights are used)"


def weights_path() -> Path:
    """Where the installed Resemblyzer package keeps its weights (it is never imported)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(None, "the voice encoder's weights are not installed (package Resemblyzer is missing)", INSTALL)
    path = Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"
    if not path.exists():
        raise ModelError(path, "is missing from the Resemblyzer package", INSTALL)
    return path


class _Storage:
    """A tensor storage read from a legacy PyTorch file: its type and key, filled later."""

    def __init__(self, dtype: np.dtype[Any], key: str) -> None:
        self.dtype, self.key = dtype, key
        self.data: np.ndarray | None = None


_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
}


class _Tensor:
    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def array(self) -> np.ndarray:
        assert self.storage.data is not None
        itemsize = self.storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset :], shape=self.size, strides=tuple(s * itemsize for s in self.stride)
        )
        return np.array(view)


class _Unpickler(pickle.Unpickler):
    """Reads PyTorch's legacy format without PyTorch: tensors become NumPy arrays."""

    def __init__(self, handle: io.BufferedIOBase, storages: dict[str, _Storage]) -> None:
        super().__init__(handle)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return lambda storage, offset, size, stride, *rest: _Tensor(storage, offset, tuple(size), tuple(stride))
        if module == "torch" and name in _DTYPES:
            return name
        if module == "collections" and name == "OrderedDict":
            import collections

            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in the weights file")

    def persistent_load(self, pid: Any) -> _Storage:
        _, kind, key, *_ = pid
        if key not in self.storages:
            self.storages[key] = _Storage(_DTYPES[str(kind)], key)
        return self.storages[key]


def load_weights(path: Path) -> dict[str, np.ndarray]:
    """The encoder's parameters by name, checked against the pinned SHA-256."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise ModelError(path, f"SHA-256 mismatch (expected {WEIGHTS_SHA256[:12]}…, found {digest[:12]}…)", INSTALL)
    handle = io.BytesIO(data)
    for _ in range(3):  # magic number, protocol version, system information
        pickle.load(handle)
    storages: dict[str, _Storage] = {}
    checkpoint = _Unpickler(handle, storages).load()
    keys = pickle.load(handle)
    for key in keys:
        (count,) = struct.unpack("<q", handle.read(8))
        storage = storages[key]
        storage.data = np.frombuffer(handle.read(count * storage.dtype.itemsize), dtype=storage.dtype)
    state = checkpoint["model_state"]
    return {name: tensor.array().astype(np.float32) for name, tensor in state.items() if isinstance(tensor, _Tensor)}


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
    start = first * HOP - N_FFT // 2
    stop = start + (count - 1) * HOP + N_FFT
    clip = np.zeros(stop - start, dtype=np.float32)
    low, high = max(start, 0), min(stop, len(audio))
    if high > low:
        clip[low - start : high - start] = audio[low:high]
    frames = np.lib.stride_tricks.as_strided(clip, shape=(count, N_FFT), strides=(clip.strides[0] * HOP, clip.strides[0]))
    spectrum = np.abs(np.fft.rfft(frames * _WINDOW, axis=1)) ** 2 * gain**2
    return np.asarray(spectrum.astype(np.float32) @ _FILTERS.T, dtype=np.float32)


def volume_gain(wav: np.ndarray, target_dbfs: float = -30.0) -> float:
    """The factor that raises quiet audio to ``target_dbfs`` (never lowers it), as
    Resemblyzer prepares audio (applied per window, not to a copy of the recording)."""
    block = 1 << 20  # summed a block at a time: a one-hour recording is never copied whole
    total = sum(float(np.dot(part, part)) for part in (wav[i : i + block].astype(np.float64) for i in range(0, len(wav), block)))
    rms = float(np.sqrt(total / len(wav))) if len(wav) else 0.0
    if rms <= 0:
        return 1.0
    change = target_dbfs - 20 * np.log10(rms)
    return 1.0 if change < 0 else float(10 ** (change / 20))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)))


@dataclass(frozen=True)
class VoiceEncoder:
    """GE2E: three LSTM layers (256), a linear layer, ReLU, L2 norm; 256-d embeddings."""

    weights: Mapping[str, np.ndarray]

    @classmethod
    def load(cls, path: Path | None = None) -> VoiceEncoder:
        """The encoder with the installed (and verified) weights."""
        return cls(load_weights(path or weights_path()))

    def embed(self, mels: np.ndarray) -> np.ndarray:
        """Embeddings of a batch of spectrograms (batch × frames × 40) -> batch × 256."""
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
        raw = np.maximum(h @ self.weights["linear.weight"].T + self.weights["linear.bias"], 0.0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return np.asarray(raw / np.where(norms > 0, norms, 1.0), dtype=np.float32)
