"""The voice encoders as ONNX graphs, built from their weights and run by ONNX Runtime.

The NumPy encoders (:mod:`pipeline.voices`, :mod:`pipeline.campplus`) are the reference: they
match the original PyTorch modules (``benchmarks/check_voice_parity.py``). The same
computation written as an ONNX graph runs several times faster on the CPU (ONNX Runtime's
convolutions and LSTM against NumPy's im2col and a Python loop over time steps), which is what
brings the speakers stage to a small share of the transcription. No graph is exported by
PyTorch: each is written here, layer by layer, from the weights already loaded, and checked
against the NumPy encoder (``tests/test_voice_encoders.py``). ONNX Runtime is already installed
for faster-whisper's speech detector.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")

BN_EPS = 1e-5
OPSET = 17


class Graph:
    """A small builder over ``onnx.helper``: nodes, initialisers, unique names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.count = 0

    def constant(self, value: np.ndarray, name: str = "") -> str:
        from onnx import numpy_helper

        name = name or self._name("c")
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def _name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def op(self, kind: str, *inputs: str, **attributes: Any) -> str:
        from onnx import helper

        out = self._name(kind.lower())
        self.nodes.append(helper.make_node(kind, list(inputs), [out], name=out, **attributes))
        return out

    def ops(self, kind: str, inputs: list[str], outputs: int, **attributes: Any) -> list[str]:
        from onnx import helper

        names = [self._name(kind.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(kind, inputs, names, name=names[0], **attributes))
        return names

    def model(self, inputs: list[tuple[str, list[Any]]], output: str, int8: Sequence[str] = ()) -> bytes:
        """The graph as ONNX bytes (float); ``int8``: the layers measured safe to run in int8,
        named in its metadata (``int8_layers``) for :func:`pipeline.models.int8_layers`."""
        from onnx import TensorProto, helper

        from .models import INT8_LAYERS

        graph = helper.make_graph(
            self.nodes,
            "voice",
            [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in inputs],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
            self.initializers,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        if int8:
            helper.set_model_props(model, {INT8_LAYERS: ",".join(int8)})
        return bytes(model.SerializeToString())


@functools.cache
def made_from(weights_sha256: str) -> str:
    """What a graph is made from: the weights (their SHA-256); the code that writes them as a
    graph, this module, and the one that turns its layers to int8, :mod:`pipeline.models`
    (their SHA-256); ONNX Runtime's version (its quantization tool writes the int8 layers): the
    key of a built graph in the model cache (:func:`pipeline.models.cached_build`)."""
    import onnxruntime

    code = hashlib.sha256(b"".join(Path(__file__).with_name(name).read_bytes() for name in ("voice_graphs.py", "models.py")))
    return f"{weights_sha256}:{code.hexdigest()}:{OPSET}:{onnxruntime.__version__}"


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def session(model: bytes) -> Any:
    """An ONNX Runtime session on one thread: batches run side by side, one per core
    (:func:`side_by_side`): on 2 cores, twice as fast as one batch at a time on two threads
    (measured: README, « Speakers »). No memory pattern: ONNX Runtime would keep one plan of
    buffers per shape of input it has seen (CAM++ in int8, batches side by side: +779 →
    +536 MiB while running, as fast)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.enable_mem_pattern = False
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def encoder_session(name: str, weights_sha256: str, write: Callable[[], bytes], int8: bool) -> Any:
    """A session on an encoder's graph: ``write`` writes it in float; with ``int8``, the layers
    it names safe are turned to int8 (:func:`pipeline.models.int8_layers`). Built once into the
    model cache, under ``name`` (``name_float`` for the all-float graph)."""
    from .models import cached_build, int8_layers

    build = (lambda: int8_layers(write())) if int8 else write
    return session(cached_build(name if int8 else f"{name}_float", made_from(weights_sha256), build))


def run(session: Any, feeds: Mapping[str, np.ndarray], release: bool = False) -> np.ndarray:
    """The graph's output for ``feeds``. With ``release``, the memory the session's arena holds
    beyond what is in use goes back at the end of the run: ONNX Runtime otherwise keeps, per
    session and for good, the most that batches side by side ever needed (README « Speakers »)."""
    options = None
    if release:
        import onnxruntime

        options = onnxruntime.RunOptions()
        options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return np.asarray(session.run(None, dict(feeds), options)[0])


def side_by_side(work: Callable[[T, bool], R], items: Sequence[T]) -> Iterator[R]:
    """``work`` over ``items``, one item per core at a time, the results in order (a
    session may be run from several threads at once; NumPy and ONNX Runtime release the GIL).
    ``work`` is also told whether its item is one of the last ones (one per core), after which
    nothing more runs: the moment to give working memory back (:func:`run`)."""
    last = len(items) - cores()
    if cores() == 1 or len(items) <= 1:
        yield from (work(item, index >= last) for index, item in enumerate(items))
        return
    with ThreadPoolExecutor(max_workers=cores()) as workers:
        yield from workers.map(work, items, [index >= last for index in range(len(items))])


def batch_norm(weights: Mapping[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Batch norm ``name`` (inference) as a scale and a shift per channel."""
    scale = 1.0 / np.sqrt(weights[f"{name}.running_var"] + BN_EPS)
    shift = -weights[f"{name}.running_mean"] * scale
    if f"{name}.weight" in weights:
        scale, shift = scale * weights[f"{name}.weight"], shift * weights[f"{name}.weight"] + weights[f"{name}.bias"]
    return scale, shift


# -- CAM++ -----------------------------------------------------------------------------------


def campplus_graph(w: Mapping[str, np.ndarray]) -> bytes:
    """CAM++ (:class:`pipeline.campplus.CamPlusPlus`): filter banks, batch × frames × 80 ->
    batch × 192 embeddings (not yet L2-normed).

    Marked safe in int8 (:func:`pipeline.models.int8_layers`): the x-vector's large matrix
    products (each dense layer's 1×1 convolution, its batch norm folded in, and the
    transitions). In int8, with the
    frames-as-rows layout, the encoder 1.7 times faster than the float graph of each
    frame's channels, cosine to the float vectors ≥ 0.996 on real speech (README, « Speakers »).
    The two-dimensional front end and the small products stay in float."""
    g = Graph()

    def norm(name: str, x: str) -> str:
        channels = w[f"{name}.running_mean"].shape[0]
        scale = w.get(f"{name}.weight", np.ones(channels, dtype=np.float32))
        bias = w.get(f"{name}.bias", np.zeros(channels, dtype=np.float32))
        inputs = [g.constant(a.astype(np.float32)) for a in (scale, bias, w[f"{name}.running_mean"], w[f"{name}.running_var"])]
        return g.op("BatchNormalization", x, *inputs, epsilon=BN_EPS)

    def conv(name: str, x: str, stride: tuple[int, ...] = (), dilation: int = 1) -> str:
        kernel = w[f"{name}.weight"].astype(np.float32)
        spatial = kernel.ndim - 2
        pads = [(kernel.shape[2] // 2) * dilation] * (2 * spatial)
        inputs = [x, g.constant(kernel)]
        if f"{name}.bias" in w:
            inputs.append(g.constant(w[f"{name}.bias"].astype(np.float32)))
        return g.op("Conv", *inputs, pads=pads, strides=list(stride or (1,) * spatial), dilations=[dilation] * spatial)

    def relu(x: str) -> str:
        return g.op("Relu", x)

    def block(name: str, x: str) -> str:
        stride = (2, 1) if f"{name}.shortcut.0.weight" in w else (1, 1)
        out = relu(norm(f"{name}.bn1", conv(f"{name}.conv1", x, stride)))
        out = norm(f"{name}.bn2", conv(f"{name}.conv2", out))
        short = norm(f"{name}.shortcut.1", conv(f"{name}.shortcut.0", x, stride)) if stride[0] > 1 else x
        return relu(g.op("Add", out, short))

    axis2 = g.constant(np.array([2], dtype=np.int64))
    hundred = g.constant(np.array([100], dtype=np.int64))
    one = g.constant(np.array([1], dtype=np.int64))
    zero = g.constant(np.array([0], dtype=np.int64))
    three = g.constant(np.array([3], dtype=np.int64))

    def scalar(value: int) -> str:
        return g.constant(np.array(value, dtype=np.int64))

    def width_of(count: int) -> str:
        return g.constant(np.array([count], dtype=np.int64))

    def rows(x: str, width: int) -> str:
        """B × T × width -> (B·T) × width."""
        return g.op("Reshape", x, g.constant(np.array([-1, width], dtype=np.int64)))

    def framed(x: str, width: int) -> str:
        """(B·T) × width -> B × T × width."""
        return g.op("Reshape", x, g.op("Concat", batch, frames, width_of(width), axis=0))

    products: list[str] = []  # the large matrix products, safe in int8

    def product(x: str, kernel: np.ndarray, bias: np.ndarray | None = None, large: bool = True) -> str:
        """``x`` (… × in) times ``kernel`` (out × in), plus ``bias``."""
        out = g.op("MatMul", x, g.constant(np.ascontiguousarray(kernel.T.astype(np.float32))))
        if large:
            products.append(out)
        return out if bias is None else g.op("Add", out, g.constant(bias.astype(np.float32)))

    def cam(name: str, x: str, dilation: int) -> str:
        """Context-aware masking of B × T × C (as :meth:`CamPlusPlus._cam`): the local
        convolution gated by the utterance's mean plus the mean of its 100-frame segment. The
        gate has one value per segment: computed once per segment, then spread over its frames."""
        local = g.op("Transpose", conv(f"{name}.linear_local", g.op("Transpose", x, perm=[0, 2, 1]), dilation=dilation), perm=[0, 2, 1])
        width = int(w[f"{name}.linear1.weight"].shape[1])
        grouped = g.op("Reshape", g.op("Pad", x, padding), g.op("Concat", batch, segments, hundred, width_of(width), axis=0))
        means = g.op("Div", g.op("ReduceSum", grouped, axis2, keepdims=0), counts)  # B × S × C
        context = g.op("Add", g.op("ReduceMean", x, axes=[1], keepdims=1), means)
        squeezed = relu(product(context, w[f"{name}.linear1.weight"][:, :, 0], w.get(f"{name}.linear1.bias"), large=False))
        gate = g.op("Sigmoid", product(squeezed, w[f"{name}.linear2.weight"][:, :, 0], w.get(f"{name}.linear2.bias"), large=False))
        growth = width_of(int(w[f"{name}.linear2.weight"].shape[0]))
        spread = g.op("Expand", g.op("Unsqueeze", gate, axis2), g.op("Concat", batch, segments, hundred, growth, axis=0))
        spread = g.op("Reshape", spread, g.op("Concat", batch, g.op("Mul", segments, hundred), growth, axis=0))
        return g.op("Mul", local, g.op("Slice", spread, zero, frames, one))

    features = "features"
    x = g.op("Unsqueeze", g.op("Transpose", features, perm=[0, 2, 1]), one)  # B × 1 × 80 × T
    x = relu(norm("head.bn1", conv("head.conv1", x)))
    for name in ("head.layer1.0", "head.layer1.1", "head.layer2.0", "head.layer2.1"):
        x = block(name, x)
    x = relu(norm("head.bn2", conv("head.conv2", x, (2, 1))))
    shape = g.op("Shape", x)
    flat_shape = g.op(
        "Concat",
        g.op("Slice", shape, zero, one),
        g.constant(np.array([-1], dtype=np.int64)),
        g.op("Slice", shape, g.constant(np.array([3], dtype=np.int64)), g.constant(np.array([4], dtype=np.int64))),
        axis=0,
    )
    x = g.op("Reshape", x, flat_shape)  # B × (C·F) × T
    x = relu(norm("xvector.tdnn.nonlinear.batchnorm", conv("xvector.tdnn.linear", x, (2,))))  # B × C × T
    # From here on, frames are rows, (B·T) × channels: every 1×1 convolution is one matrix
    # product over all frames (in int8, ONNX Runtime's DynamicQuantizeMatMul)
    channels = int(w["xvector.tdnn.linear.weight"].shape[0])
    dims = g.op("Shape", x)
    batch = g.op("Slice", dims, zero, one)
    frames = g.op("Slice", dims, axis2, three)
    segments = g.op("Div", g.op("Add", frames, g.constant(np.array([99], dtype=np.int64))), hundred)
    starts = g.op("Mul", g.op("Range", scalar(0), g.op("Squeeze", segments), scalar(1)), hundred)
    counts = g.op("Unsqueeze", g.op("Cast", g.op("Min", g.op("Sub", frames, starts), hundred), to=1), one)  # S × 1
    padding = g.op("Concat", zero, zero, zero, zero, g.op("Sub", g.op("Mul", segments, hundred), frames), zero, axis=0)
    x = rows(g.op("Transpose", x, perm=[0, 2, 1]), channels)
    for number, dilation in ((1, 1), (2, 2), (3, 2)):
        layer = 1
        while f"xvector.block{number}.tdnnd{layer}.linear1.weight" in w:
            name = f"xvector.block{number}.tdnnd{layer}"
            scale, shift = batch_norm(w, f"{name}.nonlinear2.batchnorm")  # folded into the product
            kernel = w[f"{name}.linear1.weight"][:, :, 0] * scale[:, None]
            hidden = relu(product(relu(norm(f"{name}.nonlinear1.batchnorm", x)), kernel, shift))
            new = cam(f"{name}.cam_layer", framed(hidden, int(kernel.shape[0])), dilation)
            growth = int(w[f"{name}.cam_layer.linear_local.weight"].shape[0])
            x = g.op("Concat", x, rows(new, growth), axis=1)
            channels += growth
            layer += 1
        transit = f"xvector.transit{number}"
        kernel = w[f"{transit}.linear.weight"][:, :, 0]
        x = product(relu(norm(f"{transit}.nonlinear.batchnorm", x)), kernel, w.get(f"{transit}.linear.bias"))
        channels = int(kernel.shape[0])
    x = framed(relu(norm("xvector.out_nonlinear.batchnorm", x)), channels)  # B × T × C
    mean = g.op("ReduceMean", x, axes=[1], keepdims=1)
    count = g.op("Cast", frames, to=1)
    variance = g.op(
        "Div",
        g.op("ReduceSum", g.op("Mul", *(2 * [g.op("Sub", x, mean)])), one, keepdims=0),
        g.op("Sub", count, g.constant(np.array([1.0], dtype=np.float32))),
    )
    pooled = g.op("Concat", g.op("Squeeze", mean, one), g.op("Sqrt", variance), axis=1)  # B × 2·C
    dense = g.op("MatMul", pooled, g.constant(np.ascontiguousarray(w["xvector.dense.linear.weight"][:, :, 0].T.astype(np.float32))))
    out = norm("xvector.dense.nonlinear.batchnorm", dense)
    return g.model([(features, [None, None, 80])], out, int8=products)


# -- GE2E ------------------------------------------------------------------------------------


def ge2e_graph(w: Mapping[str, np.ndarray]) -> bytes:
    """GE2E (:class:`pipeline.voices.VoiceEncoder`): mel spectrograms, batch × frames × 40 ->
    batch × 256 (ReLU, not yet L2-normed). PyTorch orders an LSTM's gates i, f, g, o; ONNX
    i, o, f, c.

    Marked safe in int8 (:func:`pipeline.models.int8_layers`): the second and later LSTM
    layers. In int8, the
    encoder 1.8 times faster, cosine to the float vectors ≥ 0.995 on real speech (README,
    « Speakers »). The first stays in float: its input, a mel power spectrogram without a log,
    spans too many decades for one 8-bit scale per batch (cosine 0.31 at worst, measured);
    the later layers read LSTM outputs, within ±1."""
    g = Graph()
    lstms: list[str] = []
    x = g.op("Transpose", "mels", perm=[1, 0, 2])  # frames × batch × 40
    state = ""
    layer = 0
    while f"lstm.weight_ih_l{layer}" in w:
        hidden = w[f"lstm.weight_hh_l{layer}"].shape[1]
        order = np.concatenate([np.arange(k * hidden, (k + 1) * hidden) for k in (0, 3, 1, 2)])
        weights = g.constant(w[f"lstm.weight_ih_l{layer}"][order][None].astype(np.float32))
        recurrent = g.constant(w[f"lstm.weight_hh_l{layer}"][order][None].astype(np.float32))
        bias = g.constant(np.concatenate([w[f"lstm.bias_ih_l{layer}"][order], w[f"lstm.bias_hh_l{layer}"][order]])[None].astype(np.float32))
        sequence, state = g.ops("LSTM", [x, weights, recurrent, bias], 2, hidden_size=int(hidden))
        lstms.append(sequence)  # the node's name
        x = g.op("Squeeze", sequence, g.constant(np.array([1], dtype=np.int64)))
        layer += 1
    last = g.op("Squeeze", state, g.constant(np.array([0], dtype=np.int64)))  # batch × hidden
    linear = g.op("MatMul", last, g.constant(np.ascontiguousarray(w["linear.weight"].T.astype(np.float32))))
    out = g.op("Relu", g.op("Add", linear, g.constant(w["linear.bias"].astype(np.float32))))
    return g.model([("mels", [None, None, 40])], out, int8=lstms[1:])
