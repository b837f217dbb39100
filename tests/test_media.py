from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.errors import RecordingError
from pipeline.media import SAMPLING_RATE, decode, probe

from .conftest import SAMPLE


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty.wav", "is empty (0 bytes)"),
        ("notes.mp3", "is not a media file ffmpeg can read"),
        ("video-only.mp4", "has no audio stream"),
        ("silence.wav", "is too short (0.2 s"),
        ("missing.wav", "does not exist"),
    ],
)
def test_bad_recording_is_refused_with_one_line_naming_file_and_fix(media_dir: Path, name: str, reason: str):
    with pytest.raises(RecordingError) as error:
        probe(media_dir / name)
    message = error.value.one_line()
    assert message.startswith(f"{media_dir / name}: ")
    assert reason in message
    assert "\n" not in message and error.value.fix


def test_truncated_video_is_refused_with_ffmpegs_reason(media_dir: Path):
    recording = probe(media_dir / "truncated.mp4")  # the header survives the cut
    with pytest.raises(RecordingError) as error:
        decode(recording)
    message = error.value.one_line()
    assert "is truncated or corrupt: audio stops at" in message
    assert "partial file" in message or "Invalid data" in message or "error" in message.lower()


def test_a_folder_is_not_a_recording(tmp_path: Path):
    folder = tmp_path / "séance.mp4"
    folder.mkdir()
    with pytest.raises(RecordingError, match="is a folder, not a recording"):
        probe(folder)


def test_a_link_to_a_missing_file_says_so(tmp_path: Path):
    link = tmp_path / "séance.wav"
    link.symlink_to(tmp_path / "ailleurs.wav")
    with pytest.raises(RecordingError, match=r"is a link to a missing file \(.*ailleurs.wav\)"):
        probe(link)


def test_video_is_decoded_to_16k_mono_of_the_audio_length(tmp_path: Path):
    odd = tmp_path / 'Séance n°2 « l\'atelier » "final" (copie).mp4'
    shutil.copy(SAMPLE, odd)
    recording = probe(odd)
    assert recording.has_video and recording.codec == "aac"
    assert len(recording.sha256) == 64
    audio = decode(recording)
    assert audio.dtype.name == "float32" and audio.ndim == 1
    assert abs(len(audio) / SAMPLING_RATE - recording.duration) < 0.1
    assert 0.01 < float(abs(audio).max()) <= 1.0


def test_every_accepted_container_decodes(media_dir: Path, tmp_path: Path):
    from .conftest import ffmpeg

    source = media_dir / "good.m4a"
    for suffix, codec in [
        ("wav", "pcm_s16le"),
        ("flac", "flac"),
        ("mp3", "libmp3lame"),
        ("ogg", "libvorbis"),
        ("opus", "libopus"),
        ("webm", "libopus"),
        ("mkv", "aac"),
        ("mov", "aac"),
    ]:
        target = tmp_path / f"clip.{suffix}"
        ffmpeg("-i", str(source), "-c:a", codec, str(target))
        audio = decode(probe(target))
        assert 5.5 < len(audio) / SAMPLING_RATE < 6.5, suffix


def test_the_declared_length_is_read_without_decoding_and_is_none_for_what_is_not_media(tmp_path: Path):
    from pipeline.media import declared_seconds

    assert declared_seconds(SAMPLE) == pytest.approx(probe(SAMPLE).duration)
    (tmp_path / "notes.mp4").write_text("not a recording", encoding="utf-8")
    assert declared_seconds(tmp_path / "notes.mp4") is None and declared_seconds(tmp_path / "missing.wav") is None
