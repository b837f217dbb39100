"""Runs the plan: one step executor for every stage, the same error rule everywhere.

Stages run in order (transcribe, keywords, synthesis, publish, archive). Before each step the
planner is asked, with today's files, whether the step is up to date (:mod:`pipeline.plan`),
so ``status`` and ``run`` agree by construction. The executor owns timing, results and error
isolation: a model that cannot load stops the batch (nothing else could run); any other
failure becomes one failed row, the batch goes on, and the exit status says so. Models
(Whisper, spaCy) are loaded once, and only if a step needs them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from . import __version__, corrections, voices
from . import keywords as keywords_stage
from . import plan as planner
from . import review as review_stage
from . import speakers as speakers_stage
from . import transcript as transcript_io
from . import voiceprints as voiceprints_io
from .catalogue import Catalogue, Session, Speaker
from .compose import compose
from .errors import EditorFileError, ModelError, PipelineError, RecordingError, shown
from .keywords import Analysis, ThemeModel, analyse_session, extract_keywords
from .media import Recording, decode, probe, sha256_file
from .plan import Project, Series, State, Step
from .store import Names, StageRecord, Store
from .subtitles import all_renderings
from .synthesis import synthesize
from .transcribe import EngineOptions, Transcriber, TranscriptionOptions, threads_per_job, transcribe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepResult:
    """What happened to one step: ``ran`` (with what it wrote), ``up to date`` or ``failed``."""

    session_id: str
    stage: str
    status: str
    recording: Path | None = None
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    files: tuple[Path, ...] = ()
    kept_edits: tuple[Path, ...] = ()
    error: str = ""
    inputs: str = ""

    @property
    def label(self) -> str:
        """How a reader names the step's subject: the recording, else the session."""
        return self.recording.name if self.recording else (self.session_id or "site")


@dataclass(frozen=True)
class RunReport:
    """Every step's result, in order."""

    results: tuple[StepResult, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[StepResult, ...]:
        """The steps that could not be done."""
        return tuple(r for r in self.results if r.status == "failed")

    def __add__(self, other: RunReport) -> RunReport:
        return RunReport(self.results + other.results)


class Reporter(Protocol):
    """Progress sink; the CLI draws bars, the library default draws nothing."""

    def start(self, label: str, total_seconds: float) -> None: ...
    def advance(self, done_seconds: float) -> None: ...
    def finish(self, result: StepResult) -> None: ...


class SilentReporter:
    """A reporter that reports nothing."""

    def start(self, label: str, total_seconds: float) -> None:
        """Ignore."""

    def advance(self, done_seconds: float) -> None:
        """Ignore."""

    def finish(self, result: StepResult) -> None:
        """Ignore."""


def _failure(
    exc: BaseException, where: Path | str, session_id: str, stage: str, started: float, recording: Path | None = None, inputs: str = ""
) -> StepResult:
    """The one failed row for an exception (the project's errors carry their own line)."""
    if isinstance(exc, PipelineError):
        message = exc.one_line()
    else:
        log.debug("unexpected error in %s of %s", stage, where, exc_info=exc)
        message = shown(f"{where}: unexpected {type(exc).__name__}: {exc} (run with --verbose for the traceback and report it)")
    return StepResult(session_id, stage, "failed", recording, wall_seconds=time.perf_counter() - started, error=message, inputs=inputs)


def isolated(session_id: str, stage: str, where: Path | str, action: Callable[[], StepResult], recording: Path | None = None) -> StepResult:
    """Run one step; a model failure stops the batch, any other becomes a failed row."""
    started = time.perf_counter()
    try:
        return action()
    except ModelError:
        raise
    except Exception as exc:  # an unexpected fault in one step must not stop the batch
        return _failure(exc, where, session_id, stage, started, recording)


# -- transcription ----------------------------------------------------------------------


def _unchanged_since_probe(recording: Recording) -> None:
    """Refuse a recording that was replaced or rewritten while it was being transcribed:
    its transcript would describe a file that no longer exists."""
    try:
        same = recording.path.stat().st_size == recording.size and sha256_file(recording.path) == recording.sha256
    except OSError:
        same = False
    if not same:
        raise RecordingError(
            recording.path, "was replaced or changed while it was being transcribed", "run again once the copy is complete"
        )


@dataclass(frozen=True)
class RecordingJob:
    """One recording's transcription, picklable, so that the same code runs in-process, in
    a local process pool (``--jobs``) or on a Dask cluster (``--scheduler``)."""

    path: Path
    session: Session
    catalogue: Catalogue
    outputs: Path
    options: TranscriptionOptions
    inputs: str
    make_transcriber: Callable[[], Transcriber]

    def run(self, get_transcriber: Callable[[], Transcriber], reporter: Reporter) -> StepResult:
        """Probe, decode, transcribe (resuming a checkpoint), check, write through the store."""
        started = time.perf_counter()
        store, session = Store(self.outputs), self.session
        try:
            recording = probe(self.path)
            reporter.start(self.path.name, recording.duration)
            audio = decode(recording, pcm16=True)  # half the memory; each block becomes float as it is decoded
            transcriber = get_transcriber()
            done = [transcript_io.segment_from_dict(item) for item in store.read_checkpoint(session.id, "transcribe", self.inputs)]
            if done:
                log.info("%s: resuming after %.1f s already transcribed", self.path, done[-1].end)
                reporter.advance(done[-1].end)
            with store.checkpoint(session.id, "transcribe", self.inputs, len(done)) as save:
                transcript = transcribe(
                    recording, audio, session.id, transcriber, self.options, reporter.advance, done, lambda s: save(asdict(s))
                )
            del audio
            _unchanged_since_probe(recording)
            files = {Names.ASR: transcript_io.dumps(transcript)}
            facts = {"redecoded": len(transcript.quality.redecoded), "seconds_without_words": transcript.quality.seconds_without_words}
            record = StageRecord(self.inputs, finished_utc=transcript.provenance.finished_utc, pipeline_version=__version__, facts=facts)
            written = store.write_stage(session.id, "transcribe", self.inputs, files, record)
            store.drop_checkpoint(session.id, "transcribe")
            return StepResult(
                session.id,
                "transcribe",
                "transcribed",
                self.path,
                transcript.duration,
                time.perf_counter() - started,
                tuple(w.path for w in written),
                tuple(w.path for w in written if w.kept_edit),
                inputs=self.inputs,
            )
        except ModelError:
            raise  # the model serves every recording: nothing else can run, so stop here
        except Exception as exc:
            return _failure(exc, self.path, session.id, "transcribe", started, self.path, self.inputs)

    def __call__(self) -> StepResult:
        """Run the job where it lands (workers share nothing but ``outputs/``)."""

        def get_transcriber() -> Transcriber:
            if self.make_transcriber not in _WORKER_TRANSCRIBERS:
                _WORKER_TRANSCRIBERS[self.make_transcriber] = self.make_transcriber()
            return _WORKER_TRANSCRIBERS[self.make_transcriber]

        return self.run(get_transcriber, SilentReporter())


# One transcriber per worker process, loaded on its first job and reused by the next ones:
# loading Whisper costs seconds, a job may be minutes, and a worker runs many jobs.
_WORKER_TRANSCRIBERS: dict[Any, Transcriber] = {}


def _call(job: RecordingJob) -> StepResult:
    return job()


def _transcription_steps(
    project: Project, session_ids: set[str] | None, force: bool
) -> Iterator[tuple[planner.Source, Step | None, StepResult | None]]:
    """Each recording to consider, with its step (to run) or its result (up to date, failed)."""
    for source in project.sources():
        if session_ids is not None and source.session.id not in session_ids:
            continue
        if source.error:
            # keyed by the file too: the session itself belongs to the other recording, which goes on
            key = f"{source.session.id} ({shown(source.path.name)})"
            yield source, None, StepResult(key, "transcribe", "failed", source.path, error=source.error)
            continue
        started = time.perf_counter()
        try:
            inputs = planner.transcribe_fingerprint(project, source.session, source.path)
        except PipelineError as exc:
            yield source, None, _failure(exc, source.path, source.session.id, "transcribe", started, source.path)
            continue
        if not force and project.store.is_fresh(source.session.id, "transcribe", inputs):
            yield source, None, StepResult(source.session.id, "transcribe", "up to date", source.path, inputs=inputs)
        else:
            yield source, Step("transcribe", State.STALE, "", inputs), None


def run_transcriptions(
    project: Project,
    make_transcriber: Callable[[], Transcriber],
    reporter: Reporter,
    session_ids: set[str] | None = None,
    force: bool = False,
) -> RunReport:
    """Transcribe every recording whose transcript is not up to date; failures are reported,
    never raised. ``engine.jobs`` > 1 runs them in that many local processes (CPU threads
    shared out); ``engine.scheduler`` sends them to a Dask cluster. Both run the same
    :class:`RecordingJob`; results come back in the order recordings end."""
    engine = project.settings.engine
    results: list[StepResult] = []
    jobs: list[RecordingJob] = []
    for source, step, result in _transcription_steps(project, session_ids, force):
        if result is not None:
            reporter.finish(result)
            results.append(result)
        elif step is not None:
            job = RecordingJob(
                source.path,
                source.session,
                project.catalogue,
                project.store.root,
                project.settings.transcription,
                step.inputs,
                make_transcriber,
            )
            jobs.append(job)
    if engine.jobs <= 1 and not engine.scheduler:
        loaded: list[Transcriber] = []

        def get_transcriber() -> Transcriber:
            if not loaded:
                loaded.append(make_transcriber())
            return loaded[0]

        for job in jobs:
            result = job.run(get_transcriber, reporter)
            reporter.finish(result)
            results.append(result)
    elif jobs:
        results += _run_jobs(jobs, engine, reporter)
    return RunReport(tuple(results))


def _run_jobs(batch: Sequence[RecordingJob], engine: EngineOptions, reporter: Reporter) -> list[StepResult]:
    results: list[StepResult] = []
    if engine.scheduler:
        from dask.distributed import Client, as_completed

        with Client(engine.scheduler) as client:  # type: ignore[no-untyped-call]
            for future in as_completed(client.map(_call, batch, pure=False)):  # type: ignore[no-untyped-call]
                results.append(future.result())
                reporter.finish(results[-1])
        return results
    import concurrent.futures
    import multiprocessing

    # fork would copy a loaded model's threads; spawn starts each worker clean.
    with concurrent.futures.ProcessPoolExecutor(engine.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for future in concurrent.futures.as_completed([pool.submit(_call, job) for job in batch]):
            results.append(future.result())
            reporter.finish(results[-1])
    return results


def transcriber_settings(project: Project) -> Project:
    """The project with its CPU threads shared out among parallel jobs."""
    return replace(project, settings=replace(project.settings, engine=threads_per_job(project.settings.engine)))


# -- speakers --------------------------------------------------------------------------------


def run_speakers(
    project: Project,
    reporter: Reporter,
    session_ids: Sequence[str] | None = None,
    force: bool = False,
    load_encoder: Callable[[str], Any] | None = None,
) -> RunReport:
    """Who speaks when, for each decoded session: voice embeddings of the speech that carries
    words, clustered into voices, named from the catalogue and the series' voiceprints.
    Writes ``speakers.json`` and the editor's ``speakers.toml``. The voice encoder is loaded
    once, only if a session needs it."""
    store = project.store
    options = project.settings.speakers
    ready = store.sessions_with(Names.ASR)
    encoder: list[Any] = []
    results = []
    for session_id in list(session_ids) if session_ids is not None else ready:

        def step(session_id: str = session_id) -> StepResult:
            started = time.perf_counter()
            if session_id not in ready:
                raise PipelineError(store.path(session_id, Names.ASR), "no transcription yet", "run `pipeline transcribe` first")
            if not options.enabled:
                return StepResult(session_id, "speakers", "up to date")
            inputs = planner.speakers_fingerprint(project, session_id)
            if not force and store.is_fresh(session_id, "speakers", inputs):
                store.accept_edits(session_id, "speakers")
                return StepResult(session_id, "speakers", "up to date", inputs=inputs)
            asr = transcript_io.load(store.path(session_id, Names.ASR))
            recording = planner.recording_of(project, session_id, asr.provenance.input_name)
            checked = probe(recording)
            if checked.sha256 != asr.provenance.input_sha256:
                raise RecordingError(recording, "is not the file that was transcribed", "run `pipeline run` to transcribe it again")
            reporter.start(f"{recording.name} (voix)", asr.duration)
            audio = decode(checked)
            if not encoder:
                encoder.append((load_encoder or voices.VoiceModels.load)(options.encoder))
            session = project.session(session_id)
            found = speakers_stage.diarize(session_id, asr, audio, encoder[0], options, lambda done: reporter.advance(done * asr.duration))
            del audio
            prints = voiceprints_io.known(store.read_series(Names.VOICEPRINTS), voices.encoder_id(options.encoder), exclude=session_id)
            names, not_heard = speakers_stage.propose_names(found.voices, session.speakers, prints, options.recognise_threshold)
            provenance = {
                "encoder": voices.encoder_versions(options.encoder),
                "encoder_id": voices.encoder_id(options.encoder),
                "options": asdict(options),
                "voices": len(found.voices),
            }
            found = replace(found, names=names, not_heard=not_heard, provenance=provenance)
            files = {
                Names.SPEAKERS: speakers_stage.to_json(found),
                Names.SPEAKER_NAMES: speakers_stage.names_toml(found, _first_words(asr, found)),
            }
            record = StageRecord(
                inputs, finished_utc=_now(), pipeline_version=__version__, facts={"voices": len(found.voices), "not_heard": list(not_heard)}
            )
            written = store.write_stage(session_id, "speakers", inputs, files, record)
            return StepResult(
                session_id,
                "speakers",
                f"{len(found.voices)} voice(s)",
                None,
                asr.duration,
                time.perf_counter() - started,
                tuple(w.path for w in written),
                tuple(w.path for w in written if w.kept_edit),
                inputs=inputs,
            )

        result = isolated(session_id, "speakers", session_id, step)
        reporter.finish(result)
        results.append(result)
    return RunReport(tuple(results))


def _first_words(asr: transcript_io.Transcript, found: speakers_stage.Diarization, count: int = 12) -> dict[str, str]:
    """The first words each voice says (for the editor's speakers.toml)."""
    from .compose import attribute

    said: dict[str, list[str]] = {}
    for segment in attribute(asr.segments, found.turns):
        for word in segment.words:
            if word.speaker and len(said.setdefault(word.speaker, [])) < count:
                said[word.speaker].append(word.word)
    return {voice: "".join(words).strip() + "…" for voice, words in said.items()}


# -- the publishable transcript ------------------------------------------------------------


def _editor_corrections(
    store: Store, session_id: str, transcript: transcript_io.Transcript, catalogue: Sequence[Speaker]
) -> tuple[transcript_io.Transcript, corrections.EditSummary] | None:
    """The composed transcript with an editor's corrections of ``transcript.txt`` carried
    onto its words, or None when nobody edited it. Only the « Nom : » heads the editor
    changed move words to another voice: compared with the text the pipeline last wrote
    (else, for a session from before that copy was kept, heads naming a voice by a name it
    had in the previous transcript stay with that voice)."""
    if not store.is_edited(session_id, Names.TRANSCRIPT_TXT):
        return None
    path = store.path(session_id, Names.TRANSCRIPT_TXT)
    corrections.check_size(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise EditorFileError(path, f"byte {exc.start} is not UTF-8", "save the file as UTF-8 in your editor") from exc
    former: dict[str, str] = {}
    previous = store.path(session_id, Names.TRANSCRIPT)
    if previous.exists():
        with contextlib.suppress(PipelineError):
            former = {s.name: s.id for s in transcript_io.load(previous).speakers}
    known = [s.name for s in transcript.speakers] + [s.name for s in catalogue] + list(former)
    paragraphs = corrections.read_edited(text, known, path)
    original = store.original(session_id, Names.TRANSCRIPT_TXT)
    if original is not None:
        paragraphs = corrections.editor_heads(paragraphs, original)
    return corrections.apply_edits(transcript, paragraphs, {s.name: s.role for s in catalogue}, former)


def _record_correction(store: Store, session_id: str, corrected: transcript_io.Transcript, total: corrections.EditSummary) -> None:
    """One ``corrected`` event per version of the editor's text (a rerun adds none): the
    words changed since the transcript before it, and since the automatic one."""
    digest = store.sha256(session_id, Names.TRANSCRIPT_TXT)
    if any(e.get("event") == "corrected" and e.get("sha256") == digest for e in store.events(session_id)):
        return
    summary = total
    if store.path(session_id, Names.TRANSCRIPT).exists():
        summary = corrections.changes(transcript_io.load(store.path(session_id, Names.TRANSCRIPT)), corrected)
    store.add_event(
        session_id,
        {
            "event": "corrected",
            "date": _now(),
            "object": Names.TRANSCRIPT_TXT,
            "sha256": digest,
            "agent": editor_name(),
            "words_changed": summary.words_changed,
            "words_replaced": summary.replaced,
            "words_inserted": summary.inserted,
            "words_removed": summary.removed,
            "words_changed_since_automatic": total.words_changed,
            "paragraphs_given_to_another_speaker": total.speakers_changed,
        },
    )


def _review_report(project: Project, session: Session, transcript: transcript_io.Transcript) -> str:
    """``review.md``: what to check before publishing, linked to the moments of the replay."""
    known = [s.name for s in session.speakers] + [s.name for s in transcript.speakers] + [t.text for t in project.glossary]
    known += [label for theme in project.catalogue.themes for label in (theme.label, *theme.terms)]
    flags = review_stage.review(transcript, known)
    replay = f"../{Names.SITE}/sessions/{session.id}/index.html"
    return review_stage.to_markdown(transcript, flags, session.title or session.id, replay)


def editor_name() -> str:
    """Who edits: ``$PIPELINE_EDITOR``, else the login name."""
    import getpass

    try:
        return os.environ.get("PIPELINE_EDITOR") or f"editor ({getpass.getuser()})"
    except (KeyError, OSError):
        return "editor"


def run_transcripts(project: Project, reporter: Reporter, session_ids: Sequence[str] | None = None, force: bool = False) -> RunReport:
    """Compose each session's publishable transcript from its decoding: vocabulary applied,
    speakers attributed and named, then ``transcript.json`` and its renderings; the named
    voices join the series' voiceprints. No model is loaded."""
    store = project.store
    ready = store.sessions_with(Names.ASR)
    results = []
    for session_id in list(session_ids) if session_ids is not None else ready:

        def step(session_id: str = session_id) -> StepResult:
            started = time.perf_counter()
            if session_id not in ready:
                raise PipelineError(store.path(session_id, Names.ASR), "no transcription yet", "run `pipeline transcribe` first")
            inputs = planner.transcript_fingerprint(project, session_id)
            if not force and store.is_fresh(session_id, "transcript", inputs):
                store.accept_edits(session_id, "transcript")
                store.accept_edits(session_id, "speakers")  # the names this transcript carries
                return StepResult(session_id, "transcript", "up to date", inputs=inputs)
            session = project.session(session_id)
            asr = transcript_io.load(store.path(session_id, Names.ASR))
            found, names = planner.speakers_of(project, session_id)
            transcript = compose(
                asr, planner.vocabulary_terms(project, session_id), project.settings.vocabulary, found, names, session.speakers
            )
            edit = _editor_corrections(store, session_id, transcript, session.speakers)
            if edit is not None:
                transcript, summary = edit
            files = {Names.TRANSCRIPT: transcript_io.dumps(transcript)}
            files.update({Names.RENDERINGS[suffix]: text for suffix, text in all_renderings(transcript, session.title)})
            files[Names.REVIEW] = _review_report(project, session, transcript)
            if edit is not None:
                del files[Names.TRANSCRIPT_TXT]  # the editor's transcript.txt is the text: never rewritten
                _record_correction(store, session_id, transcript, summary)
            facts = {"corrections": len(transcript.corrections), "speakers": [s.name for s in transcript.speakers]}
            record = StageRecord(inputs, finished_utc=_now(), pipeline_version=__version__, facts=facts)
            written = store.write_stage(session_id, "transcript", inputs, files, record)
            store.accept_edits(session_id, "speakers")  # the editor's names are applied now
            if found is not None:
                confirmed = store.is_edited(session_id, Names.SPEAKER_NAMES)
                encoder_id = voices.encoder_id(project.settings.speakers.encoder)
                series = voiceprints_io.update(
                    store.read_series(Names.VOICEPRINTS), encoder_id, session_id, found, {**found.names, **names}, confirmed
                )
                store.write_series(Names.VOICEPRINTS, series)
            return StepResult(
                session_id,
                "transcript",
                "composed",
                None,
                transcript.duration,
                time.perf_counter() - started,
                tuple(w.path for w in written),
                tuple(w.path for w in written if w.kept_edit),
                inputs=inputs,
            )

        result = isolated(session_id, "transcript", session_id, step)
        reporter.finish(result)
        results.append(result)
    return RunReport(tuple(results))


# -- keywords ----------------------------------------------------------------------------


def run_keywords(
    project: Project, load_nlp: Callable[[], Any], reporter: Reporter, session_ids: Sequence[str] | None = None, force: bool = False
) -> RunReport:
    """Keywords of each session, ranked against every session that has a transcript.

    Build then rank: the series' document frequencies come from every session first (from
    its stored candidates when its transcript is unchanged, else by parsing it), then each
    requested session is ranked. spaCy is loaded only when something must be recomputed.
    """
    store = project.store
    options = project.settings.keywords
    series_ids = store.sessions_with(Names.TRANSCRIPT)
    targets = list(session_ids) if session_ids is not None else series_ids
    nlp: Any = None
    theme_model: ThemeModel | None = None
    analysed: dict[str, Analysis] = {}
    transcripts: dict[str, transcript_io.Transcript] = {}

    def loaded(session_id: str) -> transcript_io.Transcript:
        if session_id not in transcripts:
            transcripts[session_id] = transcript_io.load(store.path(session_id, Names.TRANSCRIPT))
        return transcripts[session_id]

    def parsed(session_id: str) -> Analysis:
        nonlocal nlp
        if session_id not in analysed:
            nlp = nlp or load_nlp()
            analysed[session_id] = analyse_session(
                loaded(session_id), nlp, options, terms=keywords_stage.term_index(project.catalogue.themes)
            )
        return analysed[session_id]

    candidates: dict[str, tuple[str, ...]] = {}
    for session_id in series_ids:
        stored = None if force and session_id in targets else planner.stored_candidates(project, session_id)
        if stored is not None:
            candidates[session_id] = stored
        else:
            try:
                candidates[session_id] = tuple(sorted(parsed(session_id).candidates))
            except ModelError:
                raise
            except PipelineError:
                candidates[session_id] = ()  # reported below if it is a target
    series = Series(candidates, True)
    frequencies = series.frequencies
    results: list[StepResult] = []
    for session_id in targets:

        def step(session_id: str = session_id) -> StepResult:
            nonlocal nlp, theme_model
            started = time.perf_counter()
            if session_id not in series_ids:
                raise PipelineError(store.path(session_id, Names.TRANSCRIPT), "no transcript", "run `pipeline transcribe` first")
            inputs, own = planner.keywords_fingerprints(project, session_id, series)
            if not force and store.is_fresh(session_id, "keywords", inputs):
                return StepResult(session_id, "keywords", "up to date", inputs=inputs)
            found = parsed(session_id)
            theme_model = theme_model or ThemeModel.build(nlp, project.catalogue.themes)
            transcript = loaded(session_id)
            title = project.session(session_id).title
            curation = project.curation.of(session_id)
            speakers = [*(s.name for s in project.session(session_id).speakers), *(s.name for s in transcript.speakers)]
            extracted = extract_keywords(
                transcript,
                found.candidates,
                nlp,
                theme_model,
                title,
                frequencies,
                series.documents,
                options,
                curation=curation,
                speakers=speakers,
                words=found.words,
                session_themes=project.session(session_id).themes,
            )
            made = keywords_stage.provenance(
                nlp, store.sha256(session_id, Names.TRANSCRIPT), planner.keywords_options_digest(project), series.documents
            )
            extracted = replace(extracted, provenance={**made, **extracted.provenance})
            files = {
                Names.KEYWORDS: keywords_stage.dumps(extracted),
                Names.KEYWORDS_MD: keywords_stage.to_markdown(extracted, title, project.catalogue.themes),
            }
            facts = {
                "own": own,
                "series": series.digest_for(session_id),
                "candidates_of": planner.candidates_key(project, session_id),
                "candidates": sorted(found.candidates),
            }
            record = StageRecord(inputs, finished_utc=_now(), pipeline_version=__version__, facts=facts)
            written = store.write_stage(session_id, "keywords", inputs, files, record)
            return StepResult(
                session_id,
                "keywords",
                "keywords",
                None,
                transcript.duration,
                time.perf_counter() - started,
                tuple(w.path for w in written),
                tuple(w.path for w in written if w.kept_edit),
                inputs=inputs,
            )

        result = isolated(session_id, "keywords", store.session_dir(session_id) if _safe(store, session_id) else session_id, step)
        reporter.finish(result)
        results.append(result)
    return RunReport(tuple(results))


def _safe(store: Store, session_id: str) -> bool:
    try:
        store.session_dir(session_id)
        return True
    except PipelineError:
        return False


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# -- synthesis -----------------------------------------------------------------------------


def run_synthesis(project: Project, reporter: Reporter, session_ids: Sequence[str] | None = None, force: bool = False) -> RunReport:
    """Draft ``synthesis.md`` for each session that has a transcript and keywords. An edited
    synthesis is never overwritten: the new draft goes beside it as ``synthesis.draft.md``."""
    store = project.store
    ready = store.sessions_with(Names.KEYWORDS)
    results = []
    for session_id in list(session_ids) if session_ids is not None else ready:

        def step(session_id: str = session_id) -> StepResult:
            started = time.perf_counter()
            if session_id not in ready:
                raise PipelineError(store.path(session_id, Names.KEYWORDS), "no keywords yet", "run `pipeline keywords` first")
            inputs = planner.synthesis_fingerprint(project, session_id)
            if not force and store.is_fresh(session_id, "synthesis", inputs):
                store.accept_edits(session_id, "synthesis")
                return StepResult(session_id, "synthesis", "up to date", inputs=inputs)
            transcript = transcript_io.load(store.path(session_id, Names.TRANSCRIPT))
            found = keywords_stage.load(store.path(session_id, Names.KEYWORDS))
            draft = synthesize(
                transcript,
                found,
                project.session(session_id),
                project.catalogue.themes,
                store.sha256(session_id, Names.TRANSCRIPT),
                store.sha256(session_id, Names.KEYWORDS),
                project.settings.synthesis,
            )
            record = StageRecord(inputs, finished_utc=_now(), pipeline_version=__version__)
            written = store.write_stage(session_id, "synthesis", inputs, {Names.SYNTHESIS: draft.markdown}, record)
            return StepResult(
                session_id,
                "synthesis",
                "drafted",
                None,
                transcript.duration,
                time.perf_counter() - started,
                tuple(w.path for w in written),
                tuple(w.path for w in written if w.kept_edit),
                inputs=inputs,
            )

        result = isolated(session_id, "synthesis", session_id, step)
        reporter.finish(result)
        results.append(result)
    return RunReport(tuple(results))


# -- publish and archive -------------------------------------------------------------------


def run_publish(project: Project, reporter: Reporter, force: bool = False) -> RunReport:
    """Build the site from every session that can be published; a session that cannot is
    one failed row, and the others are published without it."""
    from .site.publish import publish

    started = time.perf_counter()
    store = project.store
    try:
        inputs = planner.publish_fingerprint(project)
        record = store.series_state().get("publish")
        if not force and record is not None and record.inputs == inputs and store.site_dir.is_dir():
            result = StepResult("", "publish", "up to date", inputs=inputs)
            reporter.finish(result)
            return RunReport((result,))
        options = project.settings.publish
        site, skipped, written = publish(
            store, project.catalogue, options.base_url, recordings=project.recordings_dir, drafts=options.drafts
        )
        rows = tuple(
            StepResult(e.session_id, "publish", "failed", error=e.one_line())
            if e.failed
            else StepResult(e.session_id, "publish", "held back (not published yet)")
            for e in skipped
        )
        store.record_series(
            "publish",
            StageRecord(
                inputs,
                finished_utc=_now(),
                pipeline_version=__version__,
                facts={
                    "skipped": [e.session_id for e in skipped if e.failed],
                    "held_back": [e.session_id for e in skipped if not e.failed],
                    "files": written,
                },
            ),
        )
        result = StepResult("", "publish", "published", None, 0.0, time.perf_counter() - started, (site / "index.html",), inputs=inputs)
    except ModelError:
        raise
    except Exception as exc:
        rows, result = (), _failure(exc, store.site_dir, "", "publish", started)
    for row in (*rows, result):
        reporter.finish(row)
    return RunReport((*rows, result))


def run_archive(project: Project, reporter: Reporter, session_ids: Sequence[str] | None = None, force: bool = False) -> RunReport:
    """One BagIt bag per session whose bag is missing or out of date."""
    from .archive import archive_session

    store = project.store
    results = []
    for session_id in list(session_ids) if session_ids is not None else store.sessions_with(Names.TRANSCRIPT):

        def step(session_id: str = session_id) -> StepResult:
            started = time.perf_counter()
            if not store.path(session_id, Names.TRANSCRIPT).exists():
                raise PipelineError(store.path(session_id, Names.TRANSCRIPT), "no transcript to archive", "run `pipeline run` first")
            inputs = planner.archive_fingerprint(project, session_id)
            record = store.state(session_id).stages.get("archive")
            if not force and record is not None and record.inputs == inputs and store.bag_dir(session_id).is_dir():
                return StepResult(session_id, "archive", "up to date", inputs=inputs)
            options = project.settings.archive
            bag = archive_session(store, project.catalogue, session_id, project.recordings_dir, options.with_media, options.rights)
            # the tag manifests seal bag-info.txt and the manifests: their hashes kept apart, so that their loss is noticed
            facts = {"tagmanifests": {p.name: sha256_file(p) for p in sorted(bag.glob("tagmanifest-*.txt"))}}
            store.record_stage(session_id, "archive", StageRecord(inputs, finished_utc=_now(), pipeline_version=__version__, facts=facts))
            return StepResult(session_id, "archive", "archived", None, 0.0, time.perf_counter() - started, (bag,), inputs=inputs)

        result = isolated(session_id, "archive", session_id, step)
        reporter.finish(result)
        results.append(result)
    return RunReport(tuple(results))


# -- the whole run -------------------------------------------------------------------------


def execute(
    project: Project,
    stages: Sequence[str] = planner.STAGES,
    session_ids: Sequence[str] | None = None,
    force: bool = False,
    make_transcriber: Callable[[], Transcriber] | None = None,
    load_nlp: Callable[[], Any] | None = None,
    reporter: Reporter | None = None,
    load_encoder: Callable[[str], Any] | None = None,
) -> RunReport:
    """Run ``stages`` (in stage order) for ``session_ids`` (default: every session).

    Transcription covers the project's recordings; later stages cover the sessions that are
    ready for them. A session whose earlier stage failed in this run is not carried further.
    """
    reporter = reporter or SilentReporter()
    wanted = set(session_ids) if session_ids is not None else None
    report = RunReport()
    failed: set[str] = set()
    if "transcribe" in stages:
        if make_transcriber is None:
            raise ValueError("transcription needs make_transcriber")
        report += run_transcriptions(project, make_transcriber, reporter, wanted, force)
        failed |= {r.session_id for r in report.failed}

    def targets(needs: str) -> list[str]:
        pool = sorted(wanted) if wanted is not None else project.store.sessions_with(needs)
        return [s for s in pool if s not in failed]

    if "speakers" in stages:
        more = run_speakers(project, reporter, targets(Names.ASR), force, load_encoder)
        report += more
        failed |= {r.session_id for r in more.failed}
    if "transcript" in stages:
        more = run_transcripts(project, reporter, targets(Names.ASR), force)
        report += more
        failed |= {r.session_id for r in more.failed}
    if "keywords" in stages:
        if load_nlp is None:
            raise ValueError("keywords need load_nlp")
        more = run_keywords(project, load_nlp, reporter, targets(Names.TRANSCRIPT), force)
        report += more
        failed |= {r.session_id for r in more.failed}
    if "synthesis" in stages:
        more = run_synthesis(project, reporter, targets(Names.KEYWORDS), force)
        report += more
        failed |= {r.session_id for r in more.failed}
    if "publish" in stages and project.store.sessions_with(Names.SYNTHESIS):
        report += run_publish(project, reporter, force)
    if "archive" in stages:
        report += run_archive(project, reporter, targets(Names.TRANSCRIPT), force)
    rows = [
        {
            "session_id": r.session_id,
            "recording": shown(r.recording.name) if r.recording else "",
            "stage": r.stage,
            "status": r.status,
            "error": r.error,
            "seconds": round(r.wall_seconds, 2),
            "inputs": r.inputs,
        }
        for r in report.results
    ]
    try:
        project.store.record_run(rows)
    except PipelineError as exc:  # the record only serves `status`; the work itself is done
        logging.getLogger("pipeline.record").warning("%s; `pipeline status` will not show this run's failures", exc.one_line())
    return report


def outputs_of(results: Sequence[StepResult]) -> list[str]:
    """The folders written, for the summary."""
    return sorted({str(f.parent) for r in results for f in r.files})


def transcribe_recordings(
    recordings: Sequence[Path],
    catalogue: Catalogue,
    store: Store,
    options: TranscriptionOptions,
    make_transcriber: Callable[[], Transcriber],
    reporter: Reporter | None = None,
    force: bool = False,
    engine: EngineOptions | None = None,
) -> RunReport:
    """Transcribe the given recordings into ``store`` (the library form of ``pipeline transcribe``)."""
    from .settings import Settings

    folder = Path(recordings[0]).parent if recordings else Path(".")
    project = Project(
        folder, catalogue, Settings(transcription=options, engine=engine or EngineOptions()), store, tuple(Path(r) for r in recordings)
    )
    stages = ("transcribe", "speakers", "transcript")
    return execute(transcriber_settings(project), stages, None, force, make_transcriber=make_transcriber, reporter=reporter)
