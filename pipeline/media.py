"""Probe and decode recordings: any audio or video file ffmpeg reads, to 16 kHz mono.

Probing uses PyAV (already required by faster-whisper) because the ffmpeg binary of the
imageio-ffmpeg wheel comes without ffprobe. Decoding runs ffmpeg through ffmpeg-python and
streams its output into one preallocated buffer, so memory holds the decoded audio once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import av
import ffmpeg
import numpy as np

from .errors import RecordingError, shown

SAMPLING_RATE = 16_000
MIN_DURATION = 1.0
MEDIA_SUFFIXES = frozenset({".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".webm", ".mp4", ".mkv", ".mov"})
# A stream that decodes to less than this share of its declared length was cut short.
TRUNCATION_TOLERANCE = 0.95


@dataclass(frozen=True)
class Recording:
    """A recording that passed the checks, with what the archive needs to identify it."""

    path: Path
    size: int
    sha256: str
    container: str
    duration: float
    audio_stream: int
    codec: str
    sample_rate: int
    channels: int
    has_video: bool


def ffmpeg_executable() -> str:
    """``ffmpeg`` from PATH, else the binary shipped in the imageio-ffmpeg wheel."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _ffmpeg_reason(path: Path) -> str:
    """ffmpeg's own last error line for a file, to surface why it cannot be read."""
    try:
        _, err = (
            ffmpeg.input(str(path))
            .output("-", format="null", t=1)
            .global_args("-nostdin", "-v", "error")
            .run(cmd=ffmpeg_executable(), capture_stdout=True, capture_stderr=True)
        )
    except ffmpeg.Error as exc:
        err = exc.stderr or b""
    lines = [line.strip() for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _strip_path(reason: str, path: Path) -> str:
    """Drop the path ffmpeg repeats in its messages (the CLI already names the file)."""
    return reason.replace(f"{path}: ", "").replace(f": '{path}'", "").replace(str(path), "the file")


def not_a_recording_file(path: Path) -> tuple[str, str] | None:
    """Why ``path`` cannot be a recording at all (reason, fix), or None: a link to a missing
    file, a folder with a media name, nothing there."""
    if path.is_symlink() and not path.exists():
        return f"is a link to a missing file ({shown(os.readlink(path))})", "copy the recording itself into the folder"
    if not path.exists():
        return "does not exist", "check the file name"
    if path.is_dir():
        return "is a folder, not a recording", "put the recording itself here, or rename the folder"
    if not path.is_file():
        return "is not a regular file", "put the recording file itself in recordings/"
    return None


def declared_seconds(path: Path) -> float | None:
    """How long the recording says it is (its container's word, nothing decoded or hashed:
    for planning a run), or None when that cannot be read; :func:`probe` checks it properly."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            audio = list(container.streams.audio)
            return _duration(container, audio[0]) if audio else None
    except (OSError, av.error.FFmpegError):
        return None


def probe(path: Path) -> Recording:
    """Check a recording and describe it; raise :class:`RecordingError` naming the reason."""
    path = Path(path)
    unreadable = not_a_recording_file(path)
    if unreadable:
        raise RecordingError(path, *unreadable)
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except OSError as exc:
        raise RecordingError(path, f"cannot be read ({exc.strerror})", "check its permissions") from exc
    if size == 0:
        raise RecordingError(path, "is empty (0 bytes)", "copy the recording again; the transfer may have failed")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        reason = _strip_path(_ffmpeg_reason(path) or str(exc), path)
        raise RecordingError(
            path, f"is not a media file ffmpeg can read ({reason})", "export it again as audio or video (mp4, m4a, wav, mp3, ...)"
        ) from exc
    with container:
        audio = list(container.streams.audio)
        has_video = any(s.type == "video" for s in container.streams)
        if not audio:
            if not has_video:
                raise RecordingError(path, "is not a media file (no audio or video stream)", "export it again as audio or video")
            raise RecordingError(path, "has no audio stream (video only)", "export the recording with its sound track")
        # The default-disposition stream is the programme sound; else the first one.
        chosen = next((s for s in audio if int(s.disposition) & 1), audio[0])
        position = audio.index(chosen)
        duration = _duration(container, chosen)
        codec = chosen.codec_context.name
        sample_rate = int(chosen.codec_context.sample_rate or 0)
        channels = int(chosen.codec_context.channels or 0)
        container_name = container.format.name
    if container_name == "wav":
        announced, present = _wav_seconds(path, size)
        if announced and present < announced * TRUNCATION_TOLERANCE:
            raise RecordingError(
                path,
                f"is truncated: its header announces {announced:.1f} s of audio, the file holds {present:.1f} s",
                "copy or export the recording again",
            )
    if duration is not None and duration < MIN_DURATION:
        raise RecordingError(
            path,
            f"is too short ({duration:.1f} s; at least {MIN_DURATION:.0f} s of audio is needed)",
            "check that the right file was exported",
        )
    return Recording(
        path=path,
        size=size,
        sha256=sha256_file(path),
        container=container_name,
        duration=duration or 0.0,
        audio_stream=position,
        codec=codec,
        sample_rate=sample_rate,
        channels=channels,
        has_video=has_video,
    )


def _wav_seconds(path: Path, size: int) -> tuple[float, float]:
    """The seconds a WAV header announces and those its file holds (ffmpeg trusts the file
    size, so a cut copy would pass for a shorter recording); (0, 0) when the header is not
    plain RIFF/WAVE or announces no length (a stream written without one)."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return 0.0, 0.0
    position, byte_rate = 12, 0
    while position + 8 <= len(head):
        chunk, length = head[position : position + 4], int.from_bytes(head[position + 4 : position + 8], "little")
        if chunk == b"fmt " and position + 16 <= len(head):
            byte_rate = int.from_bytes(head[position + 16 : position + 20], "little")
        if chunk == b"data":
            if not byte_rate or length in (0, 0xFFFFFFFF):
                return 0.0, 0.0
            return length / byte_rate, max(size - position - 8, 0) / byte_rate
        position += 8 + length + (length & 1)
    return 0.0, 0.0


def _duration(container: av.container.InputContainer, stream: av.stream.Stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def _drain(pipe: IO[bytes], sink: list[bytes]) -> None:
    sink.append(pipe.read())


@contextlib.contextmanager
def _utf8_name(path: Path) -> Iterator[Path]:
    """``path``, or, when its name is not valid UTF-8 (ffmpeg-python cannot pass it), a
    link to it with a plain name in a temporary folder, for as long as ffmpeg opens it."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        with tempfile.TemporaryDirectory(prefix="pipeline-") as folder:
            link = Path(folder) / ("recording" + (path.suffix if path.suffix.isascii() else ""))
            os.symlink(path.resolve(), link)
            yield link
        return
    yield path


def as_float32(samples: np.ndarray) -> np.ndarray:
    """Samples as the models take them: float32 in [-1, 1] (16-bit PCM divided by 32768, as
    faster-whisper's own ``decode_audio`` does)."""
    if samples.dtype == np.int16:
        scaled = samples.astype(np.float32)
        scaled /= 32768.0  # in place: a 30-minute block is 110 MB, never held twice
        return scaled
    return samples


def decode(recording: Recording, sampling_rate: int = SAMPLING_RATE, pcm16: bool = False) -> np.ndarray:
    """Decode the chosen audio stream to mono float32 at ``sampling_rate`` (16-bit PCM with
    ``pcm16``: half the memory for a long recording, what faster-whisper itself decodes to;
    :func:`as_float32` converts a slice when a model needs it).

    Raises :class:`RecordingError` when ffmpeg fails or the stream ends well before its
    declared duration (a truncated or corrupt file), with ffmpeg's reason.
    """
    path = recording.path
    sample_format, dtype = ("s16le", np.int16) if pcm16 else ("f32le", np.float32)
    width = np.dtype(dtype).itemsize
    with _utf8_name(path) as readable:
        process = (
            ffmpeg.input(str(readable))
            .output(
                "pipe:", format=sample_format, acodec=f"pcm_{sample_format}", ac=1, ar=sampling_rate, map=f"0:a:{recording.audio_stream}"
            )
            .global_args("-nostdin", "-v", "error")
            .run_async(cmd=ffmpeg_executable(), pipe_stdout=True, pipe_stderr=True)
        )
        errors: list[bytes] = []
        reader = threading.Thread(target=_drain, args=(process.stderr, errors), daemon=True)
        reader.start()
        capacity = int((recording.duration + 1.0) * sampling_rate) or sampling_rate * 60
        audio = np.empty(capacity, dtype=dtype)
        filled = 0
        while True:
            if filled == len(audio):
                audio = np.resize(audio, len(audio) * 2)
            view = memoryview(audio[filled:]).cast("B")  # type: ignore[arg-type]
            count = process.stdout.readinto(view)
            if not count:
                break
            # ffmpeg writes whole samples except, rarely, at a pipe boundary.
            while count % width:
                more = process.stdout.readinto(view[count:])
                if not more:
                    break
                count += more
            filled += count // width
        process.wait()
        reader.join()
    stderr = b"".join(errors).decode("utf-8", "replace")
    reason = _strip_path(next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), ""), path)
    if process.returncode != 0:
        raise RecordingError(
            path,
            f"ffmpeg could not decode it ({reason or 'exit status ' + str(process.returncode)})",
            "export it again; the file may be damaged",
        )
    seconds = filled / sampling_rate
    if recording.duration and seconds < recording.duration * TRUNCATION_TOLERANCE:
        raise RecordingError(
            path,
            f"is truncated or corrupt: audio stops at {seconds:.1f} s of {recording.duration:.1f} s" + (f" ({reason})" if reason else ""),
            "copy or export the recording again",
        )
    if seconds < MIN_DURATION:
        raise RecordingError(
            path,
            f"is too short ({seconds:.1f} s of audio; at least {MIN_DURATION:.0f} s is needed)",
            "check that the right file was exported",
        )
    return audio[:filled].copy() if filled < len(audio) // 2 else audio[:filled]
