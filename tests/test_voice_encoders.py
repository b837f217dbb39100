"""The voice encoders' building blocks: PyTorch files read without PyTorch, CAM++'s layers
against their textbook definitions, Kaldi filter banks, and how two encoders are combined.
(Parity with the PyTorch modules themselves is checked by benchmarks/check_voice_parity.py,
which needs PyTorch; the real weights on real voices are tested end to end.)"""

from __future__ import annotations

import collections
import io
import pickle
import sys
import types
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from pipeline import torchfile
from pipeline.campplus import CamPlusPlus, fbank
from pipeline.speakers import SpeakerOptions
from pipeline.voices import VoiceModels


def _torch_zip(state: dict[str, np.ndarray], extra: object = None) -> bytes:
    """A file as ``torch.save`` (zip format) writes it, made without PyTorch: fake ``torch``
    modules only give the pickle its global names."""
    torch_module, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args: object) -> None:
        raise AssertionError("never called while writing")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    torch_module.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    torch_module._utils = utils  # type: ignore[attr-defined]
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]

    @dataclass
    class Storage:
        key: str
        count: int

    class Tensor:
        def __init__(self, key: str, array: np.ndarray) -> None:
            self.key, self.array = key, array

        def __reduce__(self) -> tuple[object, ...]:
            strides = tuple(s // 4 for s in self.array.strides)
            return (
                _rebuild_tensor_v2,
                (Storage(self.key, self.array.size), 0, self.array.shape, strides, False, collections.OrderedDict()),
            )

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: object) -> object:
            return ("storage", FloatStorage, obj.key, "cpu", obj.count) if isinstance(obj, Storage) else None

    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch_module, "torch._utils": utils})
    try:
        body = io.BytesIO()
        tensors = collections.OrderedDict(
            (name, Tensor(str(i), np.ascontiguousarray(a, dtype="<f4"))) for i, (name, a) in enumerate(state.items())
        )
        if extra is not None:
            tensors["extra"] = extra  # type: ignore[assignment]
        Pickler(body, protocol=2).dump(tensors)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("archive/data.pkl", body.getvalue())
        for i, array in enumerate(state.values()):
            archive.writestr(f"archive/data/{i}", np.ascontiguousarray(array, dtype="<f4").tobytes())
    return out.getvalue()


def test_a_zip_weights_file_is_read_without_pytorch_and_nothing_else_is_run():
    rng = np.random.default_rng(0)
    state = {"a.weight": rng.normal(size=(3, 4)).astype(np.float32), "a.bias": np.arange(5, dtype=np.float32)}
    loaded = torchfile.load(_torch_zip(state))
    assert list(loaded) == ["a.weight", "a.bias"]
    for name, array in state.items():
        assert np.array_equal(loaded[name], array)
    transposed = torchfile.load(_torch_zip({"t": state["a.weight"].T}))["t"]
    assert np.array_equal(transposed, state["a.weight"].T), "strides are honoured"

    class Evil:
        def __reduce__(self) -> tuple[object, ...]:
            import os

            return (os.system, ("true",))

    with pytest.raises(pickle.UnpicklingError, match="unexpected"):
        torchfile.load(_torch_zip(state, extra=Evil()))


def _conv2d_reference(x: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    """Textbook 2-D cross-correlation, batch × in × freq × time, padding k // 2."""
    out_channels, _, size, _ = kernel.shape
    pad = size // 2
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    batch, _, freq, time = x.shape
    out_freq = (freq + 2 * pad - size) // stride + 1
    result = np.zeros((batch, out_channels, out_freq, time))
    for f in range(out_freq):
        for t in range(time):
            patch = padded[:, :, f * stride : f * stride + size, t : t + size]
            result[:, :, f, t] = np.einsum("bcij,ocij->bo", patch, kernel)
    return result


def _conv1d_reference(x: np.ndarray, kernel: np.ndarray, stride: int, dilation: int) -> np.ndarray:
    out_channels, _, size = kernel.shape
    pad = (size - 1) // 2 * dilation
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    batch, _, time = x.shape
    out_time = (time + 2 * pad - dilation * (size - 1) - 1) // stride + 1
    result = np.zeros((batch, out_channels, out_time))
    for t in range(out_time):
        taps = padded[:, :, t * stride : t * stride + dilation * (size - 1) + 1 : dilation]
        result[:, :, t] = np.einsum("bck,ock->bo", taps, kernel)
    return result


@pytest.mark.parametrize("stride", [1, 2])
def test_campplus_2d_convolution_is_the_textbook_one(stride: int):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 10, 7)).astype(np.float32)  # batch × channels × freq × time
    kernel = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    got = CamPlusPlus({"c.weight": kernel})._conv2d("c", np.ascontiguousarray(x.transpose(1, 0, 2, 3)), stride=stride)
    assert np.allclose(got.transpose(1, 0, 2, 3), _conv2d_reference(x, kernel, stride), atol=1e-4)


@pytest.mark.parametrize(("size", "stride", "dilation"), [(3, 1, 1), (3, 1, 2), (5, 2, 1), (1, 1, 1)])
def test_campplus_1d_convolution_is_the_textbook_one(size: int, stride: int, dilation: int):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 6, 11)).astype(np.float32)  # batch × channels × time
    kernel = rng.normal(size=(5, 6, size)).astype(np.float32)
    bias = rng.normal(size=5).astype(np.float32)
    encoder = CamPlusPlus({"c.weight": kernel, "c.bias": bias})
    got = encoder._conv1d("c", np.ascontiguousarray(x.transpose(1, 0, 2)), stride=stride, dilation=dilation)
    expected = _conv1d_reference(x, kernel, stride, dilation) + bias[None, :, None]
    assert np.allclose(got.transpose(1, 0, 2), expected, atol=1e-4)


def test_filter_banks_follow_kaldi_framing_and_put_a_tone_in_its_band():
    rate = 16_000
    seconds = np.arange(int(1.5 * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 1000.0 * seconds)).astype(np.float32)
    features = fbank(tone)
    assert features.shape == (1 + (len(tone) - 400) // 160, 80), "25-ms frames every 10 ms, no padding at the edges"
    assert np.allclose(features.mean(axis=0), 0.0, atol=1e-4), "mean-normalised over the window"
    noise = np.random.default_rng(3).normal(scale=0.05, size=len(tone)).astype(np.float32)
    half = len(tone) // 2
    tone[:half] = 0.0  # the tone starts half-way: the bands it raises are those where it is
    mixed = fbank(tone + noise)
    level = mixed[-50:].mean(axis=0) - mixed[:50].mean(axis=0)
    mel = 1127.0 * np.log(1 + np.array([20.0, 8000.0, 1000.0]) / 700)
    band = int(round((mel[2] - mel[0]) / ((mel[1] - mel[0]) / 81))) - 1
    assert abs(int(np.argmax(level)) - band) <= 1, "a 1-kHz tone lands in the 1-kHz band"


def test_two_encoders_side_by_side_give_the_mean_of_their_cosines():
    rng = np.random.default_rng(4)

    def unit(n: int, d: int) -> np.ndarray:
        v = rng.normal(size=(n, d)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    first, second = unit(6, 8), unit(6, 5)

    class Fixed:
        def __init__(self, vectors: np.ndarray) -> None:
            self.vectors = vectors

        def embed_pieces(self, audio: np.ndarray, pieces: object, setting: float, progress: object = None, **more: float) -> np.ndarray:
            return self.vectors

    both = VoiceModels(Fixed(first), Fixed(second)).embed_pieces(np.zeros(16_000, dtype=np.int16), [(0.0, 1.0)] * 6, SpeakerOptions())  # type: ignore[arg-type]
    assert np.allclose(np.linalg.norm(both, axis=1), 1.0)
    assert np.allclose(both @ both.T, (first @ first.T + second @ second.T) / 2, atol=1e-6)


def test_an_unknown_encoder_is_refused():
    with pytest.raises(ValueError, match="ge2e\\+campplus"):
        SpeakerOptions(encoder="xvector")
    assert SpeakerOptions().threshold == 0.5 and SpeakerOptions(encoder="ge2e").threshold == 0.65
    assert SpeakerOptions(encoder="ge2e", similarity=0.7).threshold == 0.7


def test_the_real_encoders_report_their_progress_up_to_the_end():
    audio = np.random.default_rng(5).normal(scale=0.1, size=16_000 * 8).astype(np.float32)
    pieces = [(0.0, 3.0), (3.2, 6.0), (6.5, 7.9)]
    heard: list[float] = []
    vectors = VoiceModels.load("ge2e+campplus").embed_pieces(audio, pieces, SpeakerOptions(), heard.append)
    assert vectors.shape == (3, 256 + 192) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert heard == sorted(heard) and heard[-1] == pytest.approx(1.0) and 0.0 < heard[0] < 1.0


@pytest.mark.parametrize("frames", [150, 120, 233])
def test_the_campplus_graph_computes_what_the_numpy_reference_computes(frames: int):
    """ONNX Runtime runs the network the speakers stage uses; NumPy is the readable reference
    (itself checked against the PyTorch module: benchmarks/check_voice_parity.py). Lengths
    under, at and over the 100-frame segments of context-aware masking."""
    from pipeline.campplus import CamPlusPlus

    encoder = CamPlusPlus.load(int8=False)
    features = np.random.default_rng(frames).standard_normal((4, frames, 80)).astype(np.float32)
    fast, reference = encoder.embed(features), encoder.embed_reference(features)
    assert fast.shape == (4, 192) and np.abs(fast - reference).max() < 1e-5


def test_the_ge2e_graph_computes_what_the_numpy_reference_computes():
    from pipeline.voices import VoiceEncoder

    encoder = VoiceEncoder.load(int8=False)
    mels = np.abs(np.random.default_rng(7).standard_normal((6, 160, 40))).astype(np.float32)
    fast, reference = encoder.embed(mels), encoder.embed_reference(mels)
    assert fast.shape == (6, 256) and np.abs(fast - reference).max() < 1e-5


def test_the_int8_graphs_keep_the_first_lstm_and_the_front_end_in_float():
    """int8 where it is safe: GE2E's first LSTM reads mel power without a log (too wide a range
    for one 8-bit scale per batch); CAM++'s 2-D front end and its small products stay in float,
    its dense layers' and transitions' products (55) are int8 (ONNX Runtime fuses each into a
    DynamicQuantizeMatMul when it loads the graph)."""
    import onnx

    from pipeline import voice_graphs
    from pipeline.models import int8_layers
    from pipeline.voices import VoiceEncoder

    ge2e = onnx.load_from_string(int8_layers(voice_graphs.ge2e_graph(VoiceEncoder.load().weights)))
    assert [node.op_type for node in ge2e.graph.node if "LSTM" in node.op_type] == ["LSTM", "DynamicQuantizeLSTM", "DynamicQuantizeLSTM"]
    weights = CamPlusPlus.load().weights
    campplus = onnx.load_from_string(int8_layers(voice_graphs.campplus_graph(weights)))
    kinds = collections.Counter(node.op_type for node in campplus.graph.node)
    dense = [key for key in weights if key.endswith(".linear1.weight") and "cam_layer" not in key]
    transits = [key for key in weights if key.startswith("xvector.transit") and key.endswith(".linear.weight")]
    assert len(dense) == 52 and len(transits) == 3
    assert kinds["MatMulInteger"] == len(dense) + len(transits) and kinds["MatMul"] == 2 * len(dense) + 1
    assert kinds["Conv"] > 0 and not kinds["ConvInteger"]


def test_the_int8_encoders_give_the_vectors_of_the_float_ones_on_speech():
    """On the bundled recording's speech, every window's vector is within a cosine of 0.99 of
    the readable float reference (on real dev speech: ≥ 0.995, README « Speakers »)."""
    from pipeline.media import decode, probe
    from pipeline.voices import VoiceEncoder, mel_frames, volume_gain

    audio = decode(probe(Path(__file__).resolve().parent.parent / "recordings" / "2022-03-17-sobriete.mp4"))
    starts = np.linspace(16_000, len(audio) - 3 * 16_000, 12).astype(int)
    features = np.stack([fbank(audio[start : start + 24_000]) for start in starts])
    campplus = CamPlusPlus.load()
    assert np.min(np.sum(campplus.embed(features) * campplus.embed_reference(features), axis=1)) > 0.99
    ge2e, gain = VoiceEncoder.load(), volume_gain(audio)
    mels = np.stack([mel_frames(audio, start // 160, 160, gain) for start in starts])
    assert np.min(np.sum(ge2e.embed(mels) * ge2e.embed_reference(mels), axis=1)) > 0.99


def test_campplus_windows_cover_each_piece_from_its_start_to_its_end_or_sit_centred_on_it():
    from pipeline.campplus import window_starts

    pieces = [(10.0, 11.0), (20.0, 22.0), (30.0, 33.2), (40.0, 46.0), (0.2, 1.0)]
    places = window_starts(pieces, 1.5, 1.5, 50.0)
    by_piece = {i: [start for owner, start in places if owner == i] for i in range(len(pieces))}
    assert by_piece[0] == [9.75], "a short piece: one window centred on it"
    assert by_piece[1] == [20.25], "2 s: one window centred, not one at its start"
    assert by_piece[2] == pytest.approx([30.0, 31.7]), "3.2 s: two windows, the first starting with it, the last ending with it"
    assert len(by_piece[3]) == 4 and by_piece[3][0] == 40.0 and by_piece[3][-1] == pytest.approx(44.5)
    assert max(np.diff(by_piece[3])) <= 1.5, "no gap between windows"
    assert by_piece[4] == [0.0], "kept inside the recording"
    assert len(window_starts([(30.0, 33.2)], 1.5, 0.75, 50.0)) == 3, "half-window spacing, as before version 3"


def test_a_graph_is_built_once_then_read_from_the_cache_and_rebuilt_when_damaged(tmp_path: Path):
    from pipeline.models import cached_build as cached

    builds: list[int] = []

    def build() -> bytes:
        builds.append(1)
        return b"graph bytes"

    assert cached("toy", "ab" * 32, build, tmp_path) == b"graph bytes"
    assert cached("toy", "ab" * 32, build, tmp_path) == b"graph bytes" and len(builds) == 1, "the second run reads the file"
    (stored,) = (tmp_path / "graphs").glob("toy-*.onnx")
    stored.write_bytes(b"graph bytez")  # damaged on disk: its name no longer matches its bytes
    assert cached("toy", "ab" * 32, build, tmp_path) == b"graph bytes" and len(builds) == 2
    assert cached("toy", "cd" * 32, build, tmp_path) == b"graph bytes" and len(builds) == 3, "other weights, another graph"
    assert len(list((tmp_path / "graphs").glob("toy-*.onnx"))) == 1, "the graph of the old weights is gone"
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert cached("toy", "ab" * 32, build, blocked) == b"graph bytes", "a cache that cannot be written is skipped"


def test_16_bit_samples_give_the_vectors_of_their_float_values():
    """The speakers stage keeps a recording as 16-bit samples (half the memory): the encoders
    scale each window themselves, by a power of two, so the vectors are the same numbers."""
    rng = np.random.default_rng(8)
    samples = (rng.normal(scale=0.05, size=16_000 * 6) * 32768).astype(np.int16)
    pieces = [(0.2, 2.9), (3.1, 5.8)]
    models = VoiceModels.load("ge2e+campplus")
    from_16_bit = models.embed_pieces(samples, pieces, SpeakerOptions())
    from_float = models.embed_pieces(samples.astype(np.float32) / 32768, pieces, SpeakerOptions())
    assert np.array_equal(from_16_bit, from_float)


def test_an_encoder_whose_graph_is_built_does_not_read_its_weights_again():
    assert VoiceModels.load().ge2e._graph is not None  # type: ignore[union-attr]  # builds the graph, or finds it built
    again = VoiceModels.load()
    assert again.ge2e is not None and again.ge2e._graph is not None
    assert again.ge2e.weights._state is None, "the weights file was not read"  # type: ignore[attr-defined]
    assert len(again.ge2e.weights) > 0 and again.ge2e.weights._state is not None, "read on demand"  # type: ignore[attr-defined]
