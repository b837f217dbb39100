"""Batches decoded side by side (``streams``): the same chunks, batches and words as
faster-whisper's own batched transcription, whatever the number of streams."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.transcribe import EngineOptions, WhisperTranscriber, _convert, batched, chunk_edges

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("seed", range(5))
def test_chunks_are_cut_where_faster_whisper_cuts_them(seed: int):
    from faster_whisper.vad import collect_chunks

    rng = np.random.default_rng(seed)
    starts = np.cumsum(rng.integers(1_000, 40_000, size=60))
    regions = [{"start": int(a), "end": int(a + n)} for a, n in zip(starts * 20, rng.integers(500, 29 * 16_000, size=60), strict=True)]
    audio = np.zeros(regions[-1]["end"] + 1, dtype=np.float32)
    chunks, _ = collect_chunks(audio, regions, max_duration=30.0)
    edges = chunk_edges([r["end"] - r["start"] for r in regions], 30 * 16_000)
    assert [b - a for a, b in edges] == [len(c) for c in chunks]
    assert edges[0][0] == 0 and all(edges[i][1] == edges[i + 1][0] for i in range(len(edges) - 1))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"min_silence_duration_ms": 500, "max_speech_duration_s": 30.0},
        {"min_silence_duration_ms": 100, "speech_pad_ms": 0},
        {"min_silence_duration_ms": 100, "speech_pad_ms": 200},
        {"min_silence_duration_ms": 50, "max_speech_duration_s": 2.0, "min_speech_duration_ms": 250, "threshold": 0.6},
    ],
)
def test_one_pass_of_the_speech_detector_gives_the_regions_faster_whisper_finds(options: dict[str, float]):
    """The transcription runs Silero once and applies two sets of rules (its own, and the
    speech the transcript records): each gives what ``get_speech_timestamps`` gives."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    from pipeline.media import as_float32, decode, probe
    from pipeline.transcribe import speech_in, speech_probabilities

    audio = as_float32(decode(probe(ROOT / "recordings" / "2022-03-17-sobriete.mp4"), pcm16=True))
    mixed = np.concatenate([audio, np.zeros(16_000 * 3, np.float32), audio[: 16_000 * 20]])  # a pause, then speech to the end
    vad = VadOptions(**options)
    expected = get_speech_timestamps(mixed, vad)
    assert len(expected) >= 2
    assert speech_in(speech_probabilities(mixed), len(mixed), vad) == expected


@pytest.mark.parametrize(("count", "size", "streams"), [(1, 8, 2), (9, 8, 2), (33, 8, 2), (33, 8, 1), (49, 8, 4), (3, 8, 4)])
def test_batches_keep_the_order_stay_within_the_size_and_keep_every_stream_busy(count: int, size: int, streams: int):
    chunks = [(i, i + 1) for i in range(count)]
    found = batched(chunks, size, streams)
    assert [c for batch in found for c in batch] == chunks
    assert all(0 < len(batch) <= size for batch in found)
    if streams == 1:
        assert [len(b) for b in found] == [len(chunks[i : i + size]) for i in range(0, count, size)]
    elif count >= streams:
        assert len(found) % streams == 0 and max(map(len, found)) - min(map(len, found)) <= 1


def test_two_streams_give_faster_whisper_s_own_words_and_times_on_a_real_recording():
    from pipeline.media import decode, probe

    audio = decode(probe(ROOT / "recordings" / "2022-03-17-sobriete.mp4"))
    single = WhisperTranscriber(engine=EngineOptions(streams=1))
    assert single._batched is not None
    segments, _ = single._batched.transcribe(audio.astype(np.float32), **single.options.decoding_options())
    reference = [(w.word, w.start, w.end) for s in (_convert(i, s) for i, s in enumerate(segments)) for w in s.words]
    for streams in (1, 2):
        transcriber = WhisperTranscriber(engine=EngineOptions(streams=streams, cpu_threads=2))
        words = [(w.word, w.start, w.end) for s in transcriber.decode(audio).segments for w in s.words]
        assert words == reference, f"{streams} stream(s)"
    assert len(reference) > 50


def test_a_run_of_short_recordings_gets_one_stream_on_every_thread(monkeypatch: pytest.MonkeyPatch):
    """A recording that cannot fill one batch per stream is a single batch: with two streams it
    would be decoded on one core while the other waits."""
    import pipeline.transcribe as transcribe_module
    from pipeline.transcribe import EngineOptions, TranscriptionOptions, WhisperFactory

    monkeypatch.setattr(transcribe_module, "_cpu_threads", lambda requested: requested or 2)
    factory = WhisperFactory(TranscriptionOptions(), EngineOptions())
    assert factory.for_recordings([5.0, 90.0, 120.0]).engine.streams == 1, "4 chunks of 30 s at most: one batch of 8 // 2"
    assert factory.for_recordings([5.0, 121.0]) == factory, "a recording that fills two batches keeps the streams"
    assert WhisperFactory(TranscriptionOptions(), EngineOptions(streams=2)).for_recordings([5.0]).engine.streams == 2, "asked for"
    assert WhisperFactory(TranscriptionOptions(batch_size=0), EngineOptions()).for_recordings([5.0]).engine.streams == 0, "sequential"
    assert WhisperFactory(TranscriptionOptions(), EngineOptions(device="cuda")).for_recordings([5.0]).engine.streams == 0, "one on a GPU"
