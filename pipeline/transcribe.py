"""Transcription with faster-whisper: streamed segments, a lost-speech guard, provenance.

The stage is :func:`transcribe`: it takes a checked :class:`~pipeline.media.Recording`, its
decoded audio and a :class:`Transcriber` (the real :class:`WhisperTranscriber`, or a fake in
unit tests) and returns a :class:`~pipeline.transcript.Transcript`: what Whisper heard,
before any vocabulary, speaker or editor correction (those are the cheap ``transcript``
stage, so that none of them ever runs Whisper again). It writes no file.

No prompt is given to Whisper: a list of terms as ``hotwords`` makes it end windows early
and lose speech (measured: README, « Vocabulary »); names and terms are corrected after
decoding instead (:mod:`pipeline.vocabulary`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from . import __version__
from . import guard as lost_speech
from .errors import ModelError, shown
from .media import SAMPLING_RATE, Recording, as_float32
from .models import ResolvedModel, resolve_model
from .text import utc_now
from .transcript import ModelInfo, Provenance, Quality, Segment, Transcript, Word

ProgressCallback = Callable[[float], None]

TRANSCRIBE_VERSION = 3
"""Bumped when the transcription's output changes for the same inputs."""


@dataclass(frozen=True)
class TranscriptionOptions:
    """How to transcribe. Defaults were chosen by measurement (see README, "Measurements")."""

    model: str = "base"
    """Whisper size name, local CTranslate2 folder or hub id; ``base`` works offline."""
    language: str | None = "fr"
    """Spoken language; ``None`` detects it from the first 30 s."""
    beam_size: int = 5
    """Beam search width (1 is greedy decoding)."""
    batch_size: int = 8
    """N > 0 decodes N VAD chunks at once (BatchedInferencePipeline); 0 decodes sequentially."""
    vad: bool = True
    """Skip non-speech with Silero VAD (removes hallucinations in silences)."""
    vad_min_silence_ms: int = 500
    """Silence that splits speech regions for the VAD (500 ms: the best of 160, 500 and 1000
    on the long-form dev files, README « Transcription »)."""
    condition_on_previous_text: bool = False
    """Off by default: conditioning is what lets Whisper fall into repetition loops."""
    compression_ratio_threshold: float = 2.4
    """Retry at a higher temperature when the text is this repetitive (gzip ratio)."""
    no_repeat_ngram_size: int = 0
    """Forbid repeating n-grams of this size inside a window (0 disables)."""
    hallucination_silence_threshold: float | None = None
    """Skip silent stretches longer than this around suspected hallucinations (seconds)."""
    guard: bool = True
    """Decode again, on its own, speech that decoded to no words (the lost-speech guard)."""
    guard_min_gap: float = 2.0
    """Gaps between decoded words at least this long (seconds) are checked for speech."""
    guard_min_speech: float = 2.0
    """Speech (seconds, by Silero VAD) in such a gap that counts as lost."""

    def decoding_options(self) -> dict[str, Any]:
        """The keyword arguments given to faster-whisper."""
        options: dict[str, Any] = {
            "language": self.language,
            "beam_size": self.beam_size,
            "vad_filter": self.vad,
            "word_timestamps": True,
            "condition_on_previous_text": self.condition_on_previous_text,
            "compression_ratio_threshold": self.compression_ratio_threshold,
            "no_repeat_ngram_size": self.no_repeat_ngram_size,
            "hallucination_silence_threshold": self.hallucination_silence_threshold,
        }
        if self.vad:
            options["vad_parameters"] = {"min_silence_duration_ms": self.vad_min_silence_ms}
        if self.batch_size:
            options["batch_size"] = self.batch_size
        return options


@dataclass(frozen=True)
class EngineOptions:
    """How transcription runs: never part of a fingerprint, since it does not change what
    is computed (``--jobs 2`` must not make every transcript stale)."""

    device: str = "cpu"
    """``cpu``, ``cuda`` or ``auto``."""
    compute_type: str = "auto"
    """CTranslate2 compute type; ``auto`` means int8 on CPU and float16 on CUDA."""
    cpu_threads: int = 0
    """CPU threads for one transcription; 0 uses every core."""
    streams: int = 0
    """Batches decoded side by side on the CPU, the threads shared out among them; 0: one per
    thread, at most 4 (on 2 cores, two single-threaded batches at once decode a recording 25 %
    faster than one batch on two threads: README « Transcription »). Always 1 on a GPU."""
    jobs: int = 1
    """Recordings transcribed at once on this machine (the CPU threads shared out)."""
    scheduler: str = ""
    """Address of a Dask scheduler to send transcriptions to (empty: this machine)."""

    def resolved_compute_type(self, device: str | None = None) -> str:
        """The compute type actually asked of CTranslate2."""
        if self.compute_type != "auto":
            return self.compute_type
        return "float16" if (device or self.device) == "cuda" else "int8"

    def resolved_streams(self, device: str, threads: int) -> int:
        """How many batches run at once: one on a GPU, else ``streams`` or one per thread (at
        most 4), never more than the threads."""
        if device == "cuda":
            return 1
        return max(1, min(self.streams or 4, threads))


@dataclass(frozen=True)
class EngineInfo:
    """What the engine tells the provenance record about itself."""

    model: ResolvedModel
    faster_whisper_version: str = ""
    ctranslate2_version: str = ""
    device: str = "cpu"
    compute_type: str = "int8"


@dataclass(frozen=True)
class Decoded:
    """What a transcriber returns: the language and a lazy stream of segments."""

    language: str
    language_probability: float
    segments: Iterator[Segment]
    speech: list[tuple[float, float]] | None = None
    """Where the speech detector heard speech (seconds; :data:`HEARD`), filled as the segments
    stream and complete once they are all read; None when the decoder does not tell."""


class Transcriber(Protocol):
    """Anything that turns 16 kHz mono audio into segments (the real model or a fake)."""

    info: EngineInfo

    def decode(self, audio: np.ndarray) -> Decoded:
        """Start decoding the whole recording; segments are produced lazily."""
        ...

    def redecode(self, clips: Sequence[np.ndarray]) -> list[list[Segment]]:
        """Decode short windows, each on its own (temperature 0, no prompt): each clip's
        segments, times from its start."""
        ...

    def find_speech(self, audio: np.ndarray) -> list[tuple[float, float]]:
        """Speech regions of a clip (seconds from its start), by voice activity detection."""
        ...


def _cpu_threads(requested: int) -> int:
    """The requested thread count, else the cores this process may run on."""
    from .voice_graphs import cores

    return requested or cores()


CLIP_SECONDS = 30.0


def batch_per_stream(batch_size: int, streams: int) -> int:
    """Chunks in one stream's batch: ``batch_size`` shared out, so that as many chunks are in
    flight as in one batch of ``batch_size`` (memory stays what it was)."""
    return max(1, batch_size // streams)


@dataclass
class WhisperTranscriber:
    """The real engine: a faster-whisper model loaded once, reused for every recording."""

    options: TranscriptionOptions = field(default_factory=TranscriptionOptions)
    engine: EngineOptions = field(default_factory=EngineOptions)
    info: EngineInfo = field(init=False)

    def __post_init__(self) -> None:
        import ctranslate2
        import faster_whisper
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        resolved = resolve_model(self.options.model)
        device = self.engine.device
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        compute_type = self.engine.resolved_compute_type(device)
        threads = _cpu_threads(self.engine.cpu_threads)
        self._streams = self.engine.resolved_streams(device, threads)
        try:
            self._model = WhisperModel(
                str(resolved.path),
                device=device,
                compute_type=compute_type,
                cpu_threads=max(1, threads // self._streams),
                num_workers=self._streams,
                local_files_only=True,
            )
        except (RuntimeError, ValueError) as exc:  # CTranslate2 reports device and type problems so
            fix = (
                "use --device cpu, or install the NVIDIA driver, CUDA 12 and cuDNN 9" if device == "cuda" else "try another --compute-type"
            )
            raise ModelError(resolved.path, f"cannot load the model on {device} with {compute_type} ({exc})", fix) from exc
        # one pipeline per stream: each keeps state between the batches of a call
        self._pipelines = [BatchedInferencePipeline(self._model) for _ in range(self._streams)] if self.options.batch_size else []
        self._batched = self._pipelines[0] if self._pipelines else None
        self.info = EngineInfo(
            model=resolved,
            faster_whisper_version=faster_whisper.__version__,
            ctranslate2_version=ctranslate2.__version__,
            device=device,
            compute_type=compute_type,
        )

    def decode(self, audio: np.ndarray) -> Decoded:
        """Run faster-whisper a block at a time (:func:`blocks`); convert its segments as
        they stream, in the recording's time. Batched decoding with VAD goes through
        :meth:`_decode_chunks` (the same chunks and batches, ``streams`` batches at once)."""
        if self._batched is not None and self.options.vad:
            return self._decode_chunks(audio)
        engine: Any = self._batched or self._model
        spans = blocks(audio)

        def run(start: int, end: int, language: str | None) -> tuple[Any, Any]:
            options = {**self.options.decoding_options(), **({"language": language} if language else {})}
            if self._batched is not None and not self.options.vad:
                # Batched decoding needs windows: without VAD, fixed 30-s clips of the audio.
                duration = (end - start) / SAMPLING_RATE
                starts = np.arange(0.0, duration, CLIP_SECONDS)
                options["clip_timestamps"] = [{"start": float(t), "end": float(min(t + CLIP_SECONDS, duration))} for t in starts]
            segments, info = engine.transcribe(as_float32(audio[start:end]), **options)
            return segments, info

        first, info = run(*spans[0], None)

        def stream() -> Iterator[Segment]:
            index = 0
            for number, (start, end) in enumerate(spans):
                # later blocks keep the language found in the first (no new detection)
                segments = first if number == 0 else run(start, end, info.language)[0]
                for raw in segments:
                    yield _shifted(_convert(index, raw), index, start / SAMPLING_RATE)
                    index += 1

        return Decoded(language=info.language, language_probability=float(info.language_probability), segments=stream())

    def _decode_chunks(self, audio: np.ndarray) -> Decoded:
        """What ``BatchedInferencePipeline.transcribe`` does with its VAD, its batches spread
        over ``streams`` workers: Silero VAD (silences of ``vad_min_silence_ms``, regions of at
        most 30 s), the speech regions put end to end and cut into chunks of at most 30 s as
        ``collect_chunks`` cuts them, a batch of consecutive chunks per call (at their place in
        the speech, so that times are rounded as faster-whisper rounds them), the times moved
        back to the recording's (``restore_speech_timestamps``). Batches come back in order, so
        segments still stream."""
        from faster_whisper.transcribe import restore_speech_timestamps
        from faster_whisper.vad import VadOptions

        options = self.options
        vad = VadOptions(min_silence_duration_ms=options.vad_min_silence_ms, max_speech_duration_s=CLIP_SECONDS)
        decoding = {k: v for k, v in options.decoding_options().items() if k not in ("vad_filter", "vad_parameters", "batch_size")}
        heard: list[tuple[float, float]] = []

        def speech_of(start: int, end: int) -> tuple[list[dict[str, int]], np.ndarray, list[list[tuple[int, int]]]]:
            block = as_float32(audio[start:end])
            probabilities = speech_probabilities(block)  # one pass of the detector, two sets of rules
            regions = speech_in(probabilities, len(block), vad)
            heard.extend(
                (round((r["start"] + start) / SAMPLING_RATE, 3), round((r["end"] + start) / SAMPLING_RATE, 3))
                for r in speech_in(probabilities, len(block), VadOptions(**HEARD))
            )
            del probabilities
            speech = np.concatenate([block[r["start"] : r["end"]] for r in regions]) if regions else np.zeros(0, np.float32)
            edges = chunk_edges([r["end"] - r["start"] for r in regions], int(CLIP_SECONDS * SAMPLING_RATE))
            # as many chunks in flight as one batch of batch_size: memory stays what it was
            return regions, speech, batched(edges, batch_per_stream(options.batch_size, self._streams), self._streams)

        def run(stream: int, speech: np.ndarray, edges: Sequence[tuple[int, int]], language: str | None) -> tuple[list[Any], Any]:
            # a quarter sample past each edge: faster-whisper turns seconds into samples by truncating
            spans = [{"start": (a + 0.25) / SAMPLING_RATE, "end": (b + 0.25) / SAMPLING_RATE} for a, b in edges]
            segments, info = self._pipelines[stream].transcribe(
                speech, **{**decoding, "language": language}, vad_filter=False, clip_timestamps=spans, batch_size=len(edges)
            )
            return list(segments), info

        block_spans = blocks(audio)
        opening = speech_of(*block_spans[0])
        held = [opening]
        first: tuple[list[Any], Any] | None = None
        language = options.language
        if opening[2] and language is None:  # the language is found on the first batch, then kept
            first = run(0, opening[1], opening[2][0], None)
            language = first[1].language
        found_language, probability = (first[1].language, first[1].language_probability) if first else (language or "", 1.0)
        del opening

        def stream() -> Iterator[Segment]:
            index = 0
            with ThreadPoolExecutor(max_workers=self._streams) as workers:
                for number, (start, end) in enumerate(block_spans):
                    regions, speech, batches = held.pop() if number == 0 else speech_of(start, end)  # never two blocks held
                    pending: dict[int, Future[tuple[list[Any], Any]]] = {}
                    if number == 0 and first is not None:
                        pending[0] = Future()
                        pending[0].set_result(first)
                    for k in range(len(batches)):
                        for ahead in range(k, min(k + self._streams, len(batches))):  # one batch per worker in flight
                            if ahead not in pending:
                                pending[ahead] = workers.submit(run, ahead % self._streams, speech, batches[ahead], language)
                        for raw in restore_speech_timestamps(pending.pop(k).result()[0], regions, SAMPLING_RATE):
                            yield _shifted(_convert(index, raw), index, start / SAMPLING_RATE)
                            index += 1
                    del regions, speech, batches  # before the next block's speech is cut

        return Decoded(language=found_language, language_probability=float(probability), segments=stream(), speech=heard)

    def redecode(self, clips: Sequence[np.ndarray]) -> list[list[Segment]]:
        """Short windows, each decoded on its own: beam search at temperature 0, no prompt.
        No sampling fallback: it makes reruns give other words (measured), and the guard
        judges the text itself (:func:`pipeline.guard.repair`). With batched decoding on, all
        the windows go in ``streams`` calls side by side, ``batch_size`` at a time (each is at
        most 30 s, one encoder window): the guard then costs what decoding those seconds costs."""
        if not clips:
            return []
        if self._batched is None:
            return [self._redecode_one(clip) for clip in clips]
        groups = [list(g) for g in np.array_split(np.arange(len(clips)), min(self._streams, len(clips)))]
        with ThreadPoolExecutor(max_workers=len(groups)) as workers:
            parts = list(workers.map(lambda k: self._redecode_batched(k, [clips[i] for i in groups[k]]), range(len(groups))))
        return [found for part in parts for found in part]

    def _redecode_batched(self, stream: int, clips: Sequence[np.ndarray]) -> list[list[Segment]]:
        options = self.options
        offsets, pieces, cursor = [], [], 0
        for clip in clips:
            offsets.append(cursor)
            pieces.append(as_float32(clip))
            cursor += len(clip)
        spans = [{"start": a / SAMPLING_RATE, "end": (a + len(c)) / SAMPLING_RATE} for a, c in zip(offsets, clips, strict=True)]
        segments, _ = self._pipelines[stream].transcribe(
            np.concatenate(pieces),
            language=options.language,
            beam_size=options.beam_size,
            word_timestamps=True,
            condition_on_previous_text=False,
            compression_ratio_threshold=None,
            log_prob_threshold=None,
            vad_filter=False,
            clip_timestamps=spans,
            batch_size=batch_per_stream(options.batch_size, self._streams),  # as in decoding: one batch of batch_size in flight
        )
        found: list[list[Segment]] = [[] for _ in clips]
        starts = [a / SAMPLING_RATE for a in offsets]
        for raw in segments:
            middle = (float(raw.start) + float(raw.end)) / 2  # its clip's (times are rounded to the ms)
            index = max(0, int(np.searchsorted(starts, middle, side="right")) - 1)
            found[index].append(_shifted(_convert(len(found[index]), raw), len(found[index]), -starts[index]))
        return found

    def _redecode_one(self, clip: np.ndarray) -> list[Segment]:
        options = self.options
        segments, _ = self._model.transcribe(
            as_float32(clip),
            language=options.language,
            beam_size=options.beam_size,
            temperature=0.0,
            word_timestamps=True,
            condition_on_previous_text=False,
            compression_ratio_threshold=None,
            log_prob_threshold=None,
            vad_filter=False,
        )
        return [_convert(i, s) for i, s in enumerate(segments)]

    def find_speech(self, audio: np.ndarray) -> list[tuple[float, float]]:
        return speech_regions(audio)


def speech_regions(
    audio: np.ndarray, min_silence: float = 0.5, pad: float = 0.03, block_seconds: float | None = None
) -> list[tuple[float, float]]:
    """Where there is speech (seconds): Silero VAD (shipped inside faster-whisper), a block at
    a time (its float copy of a 4-hour recording alone would take 0.9 GB; ``block_seconds``:
    see :func:`blocks`). Silences shorter than ``min_silence`` do not split a region; each
    region is widened by ``pad``."""
    from faster_whisper.vad import VadOptions

    options = VadOptions(min_silence_duration_ms=int(min_silence * 1000), speech_pad_ms=int(pad * 1000))
    found = []
    for start, end in blocks(audio, block_seconds):
        block = as_float32(audio[start:end])
        stretches = speech_in(speech_probabilities(block), len(block), options)
        found += [((t["start"] + start) / SAMPLING_RATE, (t["end"] + start) / SAMPLING_RATE) for t in stretches]
    return found


VAD_FRAME = 512
"""Samples per Silero VAD probability (32 ms)."""
HEARD = {"min_silence_duration_ms": 100, "speech_pad_ms": 0}
"""The speech a transcript records (``Quality.speech``): silences of 100 ms or more split it,
no margin: what the speakers stage fits turn edges to (with its own margin)."""


def speech_probabilities(samples: np.ndarray) -> np.ndarray:
    """Silero VAD's probability of speech for every 32 ms of ``samples`` (float, 16 kHz), as
    faster-whisper's ``get_speech_timestamps`` computes them before it applies its rules."""
    from faster_whisper.vad import get_vad_model

    padded = np.pad(samples, (0, VAD_FRAME - samples.shape[0] % VAD_FRAME))
    return np.asarray(get_vad_model()(padded))


def speech_in(probabilities: np.ndarray, length: int, options: Any) -> list[dict[str, int]]:
    """The speech regions (samples) that faster-whisper's ``get_speech_timestamps`` finds with
    ``options`` (a ``VadOptions``) in ``length`` samples whose probabilities are given: its
    rules, written out here so that one pass of the model serves several sets of options
    (``tests/test_streams.py`` checks both give the same regions)."""
    threshold = options.threshold
    neg_threshold = options.neg_threshold if options.neg_threshold is not None else max(threshold - 0.15, 0.01)
    window = VAD_FRAME
    min_speech = SAMPLING_RATE * options.min_speech_duration_ms / 1000
    pad = SAMPLING_RATE * options.speech_pad_ms / 1000
    max_speech = SAMPLING_RATE * options.max_speech_duration_s - window - 2 * pad
    min_silence = SAMPLING_RATE * options.min_silence_duration_ms / 1000
    min_silence_at_max_speech = SAMPLING_RATE * 98 / 1000
    triggered = False
    speeches: list[dict[str, int]] = []
    current: dict[str, int] = {}
    temp_end = prev_end = next_start = 0
    for i, probability in enumerate(probabilities):
        if probability >= threshold and temp_end:
            temp_end = 0
            if next_start < prev_end:
                next_start = window * i
        if probability >= threshold and not triggered:
            triggered = True
            current["start"] = window * i
            continue
        if triggered and window * i - current["start"] > max_speech:
            if prev_end:
                current["end"] = prev_end
                speeches.append(current)
                current = {}
                if next_start < prev_end:  # silence reached before, and still no speech
                    triggered = False
                else:
                    current["start"] = next_start
                prev_end = next_start = temp_end = 0
            else:
                current["end"] = window * i
                speeches.append(current)
                current = {}
                prev_end = next_start = temp_end = 0
                triggered = False
                continue
        if probability < neg_threshold and triggered:
            if not temp_end:
                temp_end = window * i
            if window * i - temp_end > min_silence_at_max_speech:
                prev_end = temp_end
            if window * i - temp_end < min_silence:
                continue
            current["end"] = temp_end
            if current["end"] - current["start"] > min_speech:
                speeches.append(current)
            current = {}
            prev_end = next_start = temp_end = 0
            triggered = False
    if current and length - current["start"] > min_speech:
        current["end"] = length
        speeches.append(current)
    return widened(speeches, pad, length)


def widened(speeches: list[dict[str, int]], pad: float, length: int) -> list[dict[str, int]]:
    """Regions (samples) widened by ``pad`` samples as ``get_speech_timestamps`` widens them: by
    half the silence between two regions closer than two margins, else by the margin."""
    for i, speech in enumerate(speeches):
        if i == 0:
            speech["start"] = int(max(0, speech["start"] - pad))
        if i != len(speeches) - 1:
            silence = speeches[i + 1]["start"] - speech["end"]
            if silence < 2 * pad:
                speech["end"] += int(silence // 2)
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - silence // 2))
            else:
                speech["end"] = int(min(length, speech["end"] + pad))
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - pad))
        else:
            speech["end"] = int(min(length, speech["end"] + pad))
    return speeches


BLOCK_SECONDS = 1800.0
"""Longer recordings are decoded a block at a time: faster-whisper computes the features of all
the audio it is given before it decodes, so one call for a 4-hour file would hold them all."""


def blocks(audio: np.ndarray, block_seconds: float | None = None) -> list[tuple[int, int]]:
    """Sample ranges covering ``audio``: one for a recording up to 1.1 blocks long; else blocks
    of about ``block_seconds``, each cut at the quietest 30 ms of its last minute (between
    words, not inside one)."""
    size, total = int((block_seconds or BLOCK_SECONDS) * SAMPLING_RATE), len(audio)
    cuts = [0]
    frame = int(0.03 * SAMPLING_RATE)
    while total - cuts[-1] > size * 1.1:
        end = cuts[-1] + size
        low = end - min(60 * SAMPLING_RATE, size // 2)
        window = audio[low:end][: (end - low) // frame * frame].reshape(-1, frame).astype(np.float64)
        cuts.append(low + int(np.argmin((window**2).mean(axis=1))) * frame + frame // 2)
    return list(zip(cuts, [*cuts[1:], total], strict=True))


def chunk_edges(lengths: Sequence[int], most: int) -> list[tuple[int, int]]:
    """Chunks of speech regions put end to end (sample spans): a region that would take a
    chunk past ``most`` samples starts the next one, as faster-whisper's ``collect_chunks``."""
    edges: list[tuple[int, int]] = []
    start = current = 0
    for length in lengths:
        if current and current + length > most:
            edges.append((start, start + current))
            start, current = start + current, 0
        current += length
    if current:
        edges.append((start, start + current))
    return edges


def batched(chunks: Sequence[tuple[int, int]], size: int, streams: int) -> list[list[tuple[int, int]]]:
    """Consecutive chunks in batches of at most ``size``; with several streams, as many
    batches as makes every stream busy (a multiple of ``streams``), as even as can be."""
    if not chunks:
        return []
    if streams <= 1:  # as faster-whisper batches them
        return [list(chunks[i : i + size]) for i in range(0, len(chunks), size)]
    fewest = -(-len(chunks) // size)
    count = min(len(chunks), -(-fewest // streams) * streams)
    return [[chunks[i] for i in part] for part in np.array_split(np.arange(len(chunks)), count)]


def _convert(index: int, segment: Any) -> Segment:
    return Segment(
        id=index,
        start=round(float(segment.start), 3),
        end=round(float(segment.end), 3),
        text=segment.text.strip(),
        words=tuple(
            Word(start=round(float(w.start), 3), end=round(float(w.end), 3), word=w.word, probability=round(float(w.probability), 4))
            for w in (segment.words or ())
        ),
        avg_logprob=round(float(segment.avg_logprob), 4),
        no_speech_prob=round(float(segment.no_speech_prob), 4),
        compression_ratio=round(float(segment.compression_ratio), 4),
        temperature=float(segment.temperature or 0.0),
    )


def _shifted(segment: Segment, index: int, offset: float) -> Segment:
    """A segment decoded from audio that started ``offset`` seconds into the recording."""
    if not offset:
        return replace(segment, id=index)
    words = tuple(replace(w, start=round(w.start + offset, 3), end=round(w.end + offset, 3)) for w in segment.words)
    return replace(segment, id=index, start=round(segment.start + offset, 3), end=round(segment.end + offset, 3), words=words)


def transcribe(
    recording: Recording,
    audio: np.ndarray,
    session_id: str,
    transcriber: Transcriber,
    options: TranscriptionOptions,
    on_progress: ProgressCallback | None = None,
    done: Sequence[Segment] = (),
    checkpoint: Callable[[Segment], None] | None = None,
) -> Transcript:
    """Transcribe one recording; ``on_progress`` receives the audio seconds done so far.

    Resumable: ``done`` holds the segments an interrupted run had finished (from its
    checkpoint); only the audio after the last of them is decoded. ``checkpoint`` receives
    each segment as soon as it is final, so that a run killed later loses nothing before it.
    Then the lost-speech guard decodes again whatever speech gave no words.
    """
    started = utc_now()
    offset = done[-1].end if done else 0.0
    decoded = transcriber.decode(audio[int(offset * SAMPLING_RATE) :])
    segments = list(done)
    for raw in decoded.segments:
        segment = _shifted(raw, len(segments), offset)
        segments.append(segment)
        if checkpoint:
            checkpoint(segment)
        if on_progress:
            on_progress(segment.end)
    quality = Quality()
    if options.guard:
        checked, windows = lost_speech.lost_windows(
            audio, segments, transcriber.find_speech, options.guard_min_gap, options.guard_min_speech
        )
        segments, quality = lost_speech.repair(audio, segments, windows, transcriber.redecode, checked)
    if decoded.speech is not None and not done:  # a resumed run heard only what it decoded
        quality = replace(quality, speech=tuple(decoded.speech))
    duration = len(audio) / SAMPLING_RATE
    if on_progress:
        on_progress(duration)
    info = transcriber.info
    recorded_options: Mapping[str, Any] = {
        **asdict(options),
        "compute_type": info.compute_type,
        "device": info.device,
        "decoding": options.decoding_options(),
        **({"resumed_at_seconds": offset} if done else {}),
    }
    return Transcript(
        session_id=session_id,
        language=decoded.language,
        language_probability=round(decoded.language_probability, 4),
        duration=round(duration, 3),
        segments=tuple(segments),
        provenance=Provenance(
            input_name=shown(recording.path.name),  # a name that is not UTF-8 cannot go into JSON as it is
            input_sha256=recording.sha256,
            input_duration=round(recording.duration, 3),
            model=ModelInfo(id=info.model.id, path=str(info.model.path), sha256=dict(info.model.sha256)),
            faster_whisper_version=info.faster_whisper_version,
            ctranslate2_version=info.ctranslate2_version,
            pipeline_version=__version__,
            options=recorded_options,
            started_utc=started,
            finished_utc=utc_now(),
        ),
        quality=quality,
    )


@dataclass(frozen=True)
class WhisperFactory:
    """Makes the real transcriber; picklable and hashable, so workers can build (and cache)
    their own from it."""

    options: TranscriptionOptions
    engine: EngineOptions = EngineOptions()

    def __call__(self) -> WhisperTranscriber:
        """Load the model."""
        return WhisperTranscriber(self.options, self.engine)

    def for_recordings(self, seconds: Sequence[float]) -> WhisperFactory:
        """This factory for a run of recordings of these lengths: with the streams left to
        choose (``streams = 0``), one stream when no recording can fill one batch per stream
        (``batch_size / streams`` chunks of 30 s): such a recording is a single batch, which
        one stream decodes on one core while the others wait. 42 short clips: +0.36 s per
        recording over raw faster-whisper with two streams, +0.17 s with one (README « Speed »)."""
        engine = self.engine
        if engine.streams or not self.options.batch_size or not seconds:
            return self
        streams = engine.resolved_streams("cuda" if engine.device == "cuda" else "cpu", _cpu_threads(engine.cpu_threads))
        if streams <= 1 or max(seconds) > batch_per_stream(self.options.batch_size, streams) * CLIP_SECONDS:
            return self
        return replace(self, engine=replace(engine, streams=1))


def threads_per_job(engine: EngineOptions) -> EngineOptions:
    """Share the cores out among ``engine.jobs`` concurrent transcriptions (never oversubscribe)."""
    if engine.jobs <= 1 or engine.cpu_threads:
        return engine
    return replace(engine, cpu_threads=max(1, _cpu_threads(0) // engine.jobs))


def inputs(recording_sha256: str, options: TranscriptionOptions, model: str) -> dict[str, object]:
    """What a transcription depends on: the recording's bytes, what Whisper is asked to
    compute and the weights (not how it runs: threads, device; not the vocabulary, which
    is applied after decoding)."""
    return {"recording_sha256": recording_sha256, "options": asdict(options), "model": model, "version": TRANSCRIBE_VERSION}
