"""The ``speakers`` step: who speaks when (:mod:`pipeline.speakers`), named from the catalogue
and the series' voiceprints. Writes ``speakers.json`` and the editor's ``speakers.toml``."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

from .. import speakers as speakers_stage
from .. import transcript as transcript_io
from .. import voiceprints as voiceprints_io
from .. import voices
from ..compose import attribute
from ..errors import RecordingError
from ..media import decode, probe
from ..project import Project
from ..store import Names, fingerprint
from .base import Context, Outcome, Stage


def speakers_fingerprint(project: Project, session_id: str) -> str:
    """The voices' fingerprint of a session whose decoding exists."""
    inputs = speakers_stage.inputs(project.store.sha256(session_id, Names.ASR), project.settings.speakers, project.session(session_id))
    return fingerprint(inputs)


def recording_of(project: Project, session_id: str, input_name: str) -> Path:
    """The recording a session was transcribed from (its catalogue entry, else its name)."""
    for source in project.sources():
        if source.session.id == session_id and not source.error:
            return source.path
    path = project.recordings_dir / input_name
    if not path.exists():
        raise RecordingError(
            path, "is not in the recordings folder, and telling voices apart needs it", "put it back, or pass --no-speakers"
        )
    return path


def first_words(asr: transcript_io.Transcript, found: speakers_stage.Diarization, count: int = 12) -> dict[str, str]:
    """The first words each voice says (for the editor's speakers.toml)."""
    said: dict[str, list[str]] = {}
    for segment in attribute(asr.segments, found.turns):
        for word in segment.words:
            if word.speaker and len(said.setdefault(word.speaker, [])) < count:
                said[word.speaker].append(word.word)
    return {voice: "".join(words).strip() + "…" for voice, words in said.items()}


class SpeakersStage(Stage):
    """Voice embeddings of the speech that carries words, clustered into voices; the voice
    encoder is loaded once, only if a session needs it."""

    name = "speakers"
    needs = {Names.ASR: ("no transcription yet", "run `pipeline transcribe` first")}
    archived = (Names.SPEAKERS, Names.SPEAKER_NAMES)
    off = "off (--no-speakers)"

    def enabled(self, project: Project) -> bool:
        return project.settings.speakers.enabled

    def fingerprint(self, ctx: Context, session_id: str) -> str:
        return speakers_fingerprint(ctx.project, session_id)

    def run(self, ctx: Context, session_id: str, inputs: str) -> Outcome:
        project, store, options = ctx.project, ctx.project.store, ctx.project.settings.speakers
        asr = transcript_io.load(store.path(session_id, Names.ASR))
        recording = recording_of(project, session_id, asr.provenance.input_name)
        checked = probe(recording)
        if checked.sha256 != asr.provenance.input_sha256:
            raise RecordingError(recording, "is not the file that was transcribed", "run `pipeline run` to transcribe it again")
        ctx.reporter.start(f"{recording.name} (voix)", asr.duration)
        decoded = ctx.take_decoded(checked.sha256)  # transcribed in this run: not decoded twice
        audio = decoded if decoded is not None else decode(checked, pcm16=True)  # the encoders scale 16-bit samples themselves
        load = ctx.models.load_encoder or voices.VoiceModels.load
        encoder = ctx.models.get(f"encoder:{options.encoder}", lambda: load(options.encoder))
        session = project.session(session_id)
        found = speakers_stage.diarize(session_id, asr, audio, encoder, options, lambda done: ctx.reporter.advance(done * asr.duration))
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
        return Outcome(
            f"{len(found.voices)} voice(s)",
            {
                Names.SPEAKERS: speakers_stage.to_json(found),
                Names.SPEAKER_NAMES: speakers_stage.names_toml(found, first_words(asr, found)),
            },
            asr.duration,
            {"voices": len(found.voices), "not_heard": list(not_heard)},
        )
