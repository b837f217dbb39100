"""The ``transcript`` step: the publishable transcript, composed from the decoding (vocabulary
applied, speakers attributed and named, an editor's corrections of ``transcript.txt`` carried
back), with its renderings and ``review.md``; the named voices join the series' voiceprints.
No model is loaded."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

from .. import corrections, voices
from .. import review as review_stage
from .. import speakers as speakers_stage
from .. import transcript as transcript_io
from .. import voiceprints as voiceprints_io
from ..catalogue import Session, Speaker
from ..compose import compose
from ..compose import inputs as compose_inputs
from ..errors import EditorFileError, PipelineError
from ..project import Project
from ..store import Names, Store, fingerprint
from ..subtitles import all_renderings
from ..text import utc_now
from ..vocabulary import Term, terms_of
from .base import Context, Outcome, Stage


def vocabulary_terms(project: Project, session_id: str) -> tuple[Term, ...]:
    """The vocabulary a session's transcript is corrected with."""
    return terms_of(project.session(session_id), project.glossary)


def speakers_of(project: Project, session_id: str) -> tuple[speakers_stage.Diarization | None, dict[str, str]]:
    """A session's voices and the names an editor gave them (None when speakers are off)."""
    store = project.store
    if not project.settings.speakers.enabled or not store.path(session_id, Names.SPEAKERS).exists():
        return None, {}
    found = speakers_stage.from_json(store.read_text(session_id, Names.SPEAKERS), store.path(session_id, Names.SPEAKERS))
    names = {}
    if store.path(session_id, Names.SPEAKER_NAMES).exists():
        names = speakers_stage.read_names(store.read_text(session_id, Names.SPEAKER_NAMES), store.path(session_id, Names.SPEAKER_NAMES))
    return found, names


def transcript_fingerprint(project: Project, session_id: str) -> str:
    """The publishable transcript's fingerprint of a session whose decoding exists."""
    store = project.store
    session = project.session(session_id)
    speakers = names = ""
    if project.settings.speakers.enabled:
        speakers = store.sha256(session_id, Names.SPEAKERS) if store.path(session_id, Names.SPEAKERS).exists() else ""
        names = store.sha256(session_id, Names.SPEAKER_NAMES) if store.path(session_id, Names.SPEAKER_NAMES).exists() else ""
    terms = vocabulary_terms(project, session_id)
    inputs = compose_inputs(store.sha256(session_id, Names.ASR), terms, project.settings.vocabulary, session.title, speakers, names)
    # an editor's corrected transcript.txt is an input of the stage that reads it back
    edited = store.sha256(session_id, Names.TRANSCRIPT_TXT) if store.is_edited(session_id, Names.TRANSCRIPT_TXT) else ""
    return fingerprint({**inputs, "corrected_txt_sha256": edited, "review": review_stage.REVIEW_VERSION})


def editor_corrections(
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


def record_correction(store: Store, session_id: str, corrected: transcript_io.Transcript, total: corrections.EditSummary) -> None:
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
            "date": utc_now(),
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


def review_flags(project: Project, session: Session, transcript: transcript_io.Transcript) -> tuple[review_stage.Flag, ...]:
    """What to check in a session's transcript; the names and terms the catalogue, the voices
    and the glossary spell are known."""
    known = [s.name for s in session.speakers] + [s.name for s in transcript.speakers] + [t.text for t in project.glossary]
    known += [label for theme in project.catalogue.themes for label in (theme.label, *theme.terms)]
    return review_stage.review(transcript, known)


def review_report(project: Project, session: Session, transcript: transcript_io.Transcript) -> str:
    """``review.md``: what to check before publishing, linked to the moments of the replay."""
    flags = review_flags(project, session, transcript)
    replay = f"../{Names.SITE}/sessions/{session.id}/index.html"
    return review_stage.to_markdown(transcript, flags, session.title or session.id, replay)


def editor_name() -> str:
    """Who edits: ``$PIPELINE_EDITOR``, else the login name."""
    import getpass

    try:
        return os.environ.get("PIPELINE_EDITOR") or f"editor ({getpass.getuser()})"
    except (KeyError, OSError):
        return "editor"


class TranscriptStage(Stage):
    """The publishable transcript and its renderings; the editor's ``transcript.txt`` is
    read back, never rewritten."""

    name = "transcript"
    needs = {Names.ASR: ("no transcription yet", "run `pipeline transcribe` first")}
    archived = (Names.TRANSCRIPT, Names.TRANSCRIPT_TXT, Names.TRANSCRIPT_VTT, Names.TRANSCRIPT_SRT)

    def fingerprint(self, ctx: Context, session_id: str) -> str:
        return transcript_fingerprint(ctx.project, session_id)

    def up_to_date(self, ctx: Context, session_id: str) -> None:
        super().up_to_date(ctx, session_id)
        ctx.project.store.accept_edits(session_id, "speakers")  # the names this transcript carries

    def run(self, ctx: Context, session_id: str, inputs: str) -> Outcome:
        project, store = ctx.project, ctx.project.store
        session = project.session(session_id)
        asr = transcript_io.load(store.path(session_id, Names.ASR))
        found, names = speakers_of(project, session_id)
        transcript = compose(asr, vocabulary_terms(project, session_id), project.settings.vocabulary, found, names, session.speakers)
        edit = editor_corrections(store, session_id, transcript, session.speakers)
        if edit is not None:
            transcript, summary = edit
        files = {Names.TRANSCRIPT: transcript_io.dumps(transcript)}
        files.update({Names.RENDERINGS[suffix]: text for suffix, text in all_renderings(transcript, session.title)})
        files[Names.REVIEW] = review_report(project, session, transcript)
        if edit is not None:
            del files[Names.TRANSCRIPT_TXT]  # the editor's transcript.txt is the text: never rewritten
            record_correction(store, session_id, transcript, summary)

        def then() -> None:
            store.accept_edits(session_id, "speakers")  # the editor's names are applied now
            if found is not None:
                confirmed = store.is_edited(session_id, Names.SPEAKER_NAMES)
                encoder_id = voices.encoder_id(project.settings.speakers.encoder)
                series = voiceprints_io.update(
                    store.read_series(Names.VOICEPRINTS), encoder_id, session_id, found, {**found.names, **names}, confirmed
                )
                store.write_series(Names.VOICEPRINTS, series)

        facts = {"corrections": len(transcript.corrections), "speakers": [s.name for s in transcript.speakers]}
        return Outcome("composed", files, transcript.duration, facts, then=then)
