from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import transcript as transcript_io
from pipeline.errors import TranscriptFormatError
from pipeline.transcript import ModelInfo, Provenance, Transcript

from .conftest import make_segments


def build_transcript(texts: list[str], session_id: str = "s1") -> Transcript:
    return Transcript(
        session_id=session_id,
        language="fr",
        language_probability=0.99,
        duration=60.0,
        segments=tuple(make_segments(texts)),
        provenance=Provenance(
            input_name="séance « 2 ».mp4",
            input_sha256="a" * 64,
            input_duration=60.0,
            model=ModelInfo(id="Systran/faster-whisper-base", path="/m", sha256={"model.bin": "b" * 64}),
            faster_whisper_version="1.2.1",
            ctranslate2_version="4.8.5",
            pipeline_version="0.1.0",
            options={"beam_size": 5, "language": "fr", "vad_parameters": {"min_silence_duration_ms": 1000}},
            started_utc="2026-11-25T10:00:00+00:00",
            finished_utc="2026-11-25T10:01:00+00:00",
        ),
    )


def test_round_trip_gives_back_the_same_objects():
    original = build_transcript(["Bonjour à toutes et à tous.", "La gouvernance des données reste la clé."])
    text = transcript_io.dumps(original)
    assert transcript_io.loads(text) == original
    assert transcript_io.dumps(transcript_io.loads(text)) == text


def test_the_speech_heard_round_trips_and_an_older_file_without_it_reads_as_not_recorded():
    import json
    from dataclasses import replace

    from pipeline.transcript import Quality

    heard = replace(build_transcript(["Un."]), quality=Quality(speech=((0.512, 1.25), (2.0, 3.968))))
    data = json.loads(transcript_io.dumps(heard))
    assert data["quality"]["speech"] == [[0.512, 1.25], [2.0, 3.968]]
    assert transcript_io.loads(transcript_io.dumps(heard)) == heard
    del data["quality"]["speech"]
    assert transcript_io.from_dict(data).quality.speech is None


def test_json_carries_schema_info_and_provenance():
    import json

    data = json.loads(transcript_io.dumps(build_transcript(["Un."])))
    assert data["schema_version"] == transcript_io.SCHEMA_VERSION
    assert data["info"] == {"language": "fr", "language_probability": 0.99, "duration": 60.0}
    segment = data["segments"][0]
    assert {"start", "end", "text", "words", "avg_logprob", "no_speech_prob"} <= set(segment)
    assert {"start", "end", "word", "probability", "speaker"} == set(segment["words"][0])
    assert data["provenance"]["input_sha256"] == "a" * 64
    assert data["provenance"]["model"]["sha256"]["model.bin"] == "b" * 64


def test_other_schema_version_is_refused_with_the_fix(tmp_path: Path):
    path = tmp_path / "transcript.json"
    path.write_text('{"schema_version": 99}', encoding="utf-8")
    with pytest.raises(TranscriptFormatError, match="version 99 is not supported.*--force"):
        transcript_io.load(path)


def test_broken_json_names_line_and_column(tmp_path: Path):
    path = tmp_path / "transcript.json"
    path.write_text('{\n  "schema_version": 1,\n  oops\n}', encoding="utf-8")
    with pytest.raises(TranscriptFormatError) as error:
        transcript_io.load(path)
    assert str(path) in str(error.value) and "line 3" in str(error.value)


def test_errors_survive_a_process_boundary():
    import pickle

    from pipeline.errors import OutputError

    error = OutputError(Path("outputs/x"), "cannot be published (boom)", "fix it")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is OutputError and again.one_line() == error.one_line()


def test_the_fast_segment_form_is_exactly_asdict():
    import json
    from dataclasses import asdict

    from pipeline.transcript import _segment_dict

    from .conftest import make_segments

    for segment in make_segments(["Bonjour à tous.", "Une deuxième phrase."]):
        assert json.dumps(_segment_dict(segment)) == json.dumps(asdict(segment)), "same JSON, same key order"


def test_long_audio_is_decoded_in_blocks_cut_in_silence():
    import numpy as np

    from pipeline.transcribe import SAMPLING_RATE, blocks

    rng = np.random.default_rng(0)
    seconds = 100
    audio = (rng.standard_normal(seconds * SAMPLING_RATE) * 0.1).astype(np.float32)
    quiet = [(33.0, 33.4), (71.2, 71.6)]  # pauses between words
    for start, end in quiet:
        audio[int(start * SAMPLING_RATE) : int(end * SAMPLING_RATE)] = 0.0
    spans = blocks(audio, block_seconds=40.0)
    assert spans[0][0] == 0 and spans[-1][1] == len(audio)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False)), "contiguous, nothing lost or doubled"
    cuts = [start / SAMPLING_RATE for start, _ in spans[1:]]
    assert len(cuts) == 2 and all(any(s <= c <= e for s, e in quiet) for c in cuts), cuts
    assert blocks(audio[: 30 * SAMPLING_RATE], block_seconds=40.0) == [(0, 30 * SAMPLING_RATE)]
