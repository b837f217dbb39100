"""The ``keywords`` step: keywords per theme and the passages filed under themes
(:mod:`pipeline.keywords`), each session ranked against the whole series.

Build then rank: before its steps, a run knows every session's candidates (from the record of
its last keywords run when its transcript is unchanged, else by parsing it), and so the
series' document frequencies (:meth:`KeywordsStage.prepare`); then each session is ranked.
spaCy is loaded only when something must be parsed or ranked."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from .. import keywords as keywords_stage
from .. import transcript as transcript_io
from ..errors import ModelError, PipelineError
from ..keywords import Analysis, ThemeModel, analyse_session, document_frequencies, extract_keywords
from ..project import Project, State, Step
from ..store import Names, SessionState, fingerprint
from .base import Context, Last, Outcome, Stage, recorded


@dataclass(frozen=True)
class Series:
    """The series' document frequencies (for keyword ranking), once every session's
    candidates are known; ``complete`` is False when some must be parsed again."""

    candidates: Mapping[str, tuple[str, ...]]
    complete: bool

    @functools.cached_property
    def frequencies(self) -> Mapping[str, int]:
        """In how many sessions each candidate lemma occurs."""
        return dict(document_frequencies(self.candidates.values()))

    def digest_for(self, session_id: str) -> str:
        """Fingerprint of what a session's ranking reads of the series: the number of
        sessions and the document frequencies of its own candidates. A correction in one
        session leaves the others up to date unless it changes a lemma they share."""
        own = self.candidates.get(session_id, ())
        return fingerprint({"documents": self.documents, "frequencies": {lemma: self.frequencies.get(lemma, 0) for lemma in own}})

    @property
    def documents(self) -> int:
        """Sessions in the series."""
        return len(self.candidates)


def stored_candidates(project: Project, session_id: str) -> tuple[str, ...] | None:
    """A session's candidate lemmas as its last keywords run recorded them (in the
    pipeline's own state, not in keywords.json, which an editor may touch), if made from
    its present transcript with today's options (else None: it must be parsed again)."""
    record = project.store.state(session_id).stages.get("keywords")
    if record is None or record.facts.get("candidates_of") != candidates_key(project, session_id):
        return None
    candidates = record.facts.get("candidates")
    return tuple(str(c) for c in candidates) if isinstance(candidates, list) else None


def candidates_key(project: Project, session_id: str) -> str:
    """What a session's candidates depend on: its transcript and the keyword options."""
    return fingerprint({"transcript": project.store.sha256(session_id, Names.TRANSCRIPT), "options": keywords_options_digest(project)})


def keywords_options_digest(project: Project) -> str:
    """Fingerprint of the keyword options (recorded in keywords.json)."""
    return fingerprint({"options": asdict(project.settings.keywords), "version": keywords_stage.KEYWORDS_VERSION})


def stored_series(project: Project) -> Series:
    """The series as the stored keywords describe it (no parsing)."""
    known = {s: stored_candidates(project, s) for s in project.store.sessions_with(Names.TRANSCRIPT)}
    return Series({s: c for s, c in known.items() if c is not None}, all(c is not None for c in known.values()))


def keywords_fingerprints(project: Project, session_id: str, series: Series) -> tuple[str, str]:
    """The keywords' fingerprint of a session with a transcript, and the part of it that
    does not depend on the rest of the series (its own transcript, title, options)."""
    store = project.store
    session = project.session(session_id)
    inputs = keywords_stage.inputs(
        store.sha256(session_id, Names.TRANSCRIPT),
        project.catalogue.themes,
        session.title,
        project.settings.keywords,
        series.digest_for(session_id),
        [s.name for s in session.speakers],
        session.themes,
    )
    own = fingerprint({k: v for k, v in inputs.items() if k != "series"})
    curation = project.curation.of(session_id)
    if curation:  # an editor's pins and bans: the ranking changes, not the candidates
        inputs = {**inputs, "curation": {"pin": list(curation.pin), "ban": list(curation.ban)}}
    return fingerprint(inputs), own


@dataclass
class Parsed:
    """What one run of the stage keeps between its steps: transcripts and analyses."""

    transcripts: dict[str, transcript_io.Transcript]
    analysed: dict[str, Analysis]


class KeywordsStage(Stage):
    """Keywords ranked against every session that has a transcript."""

    name = "keywords"
    needs = {Names.TRANSCRIPT: ("no transcript", "run `pipeline transcribe` first")}
    archived = (Names.KEYWORDS, Names.KEYWORDS_MD)

    def _series(self, ctx: Context) -> Series:
        series = ctx.prepared.get("keywords.series")
        if series is None:  # the planner: what the records say, nothing parsed
            series = ctx.prepared["keywords.series"] = stored_series(ctx.project)
        return series

    def _parsed(self, ctx: Context) -> Parsed:
        return ctx.prepared.setdefault("keywords.parsed", Parsed({}, {}))  # type: ignore[no-any-return]

    def _nlp(self, ctx: Context) -> Any:
        if ctx.models.load_nlp is None:
            raise ValueError("keywords need load_nlp")
        return ctx.models.get("nlp", ctx.models.load_nlp)

    def _transcript(self, ctx: Context, session_id: str) -> transcript_io.Transcript:
        parsed = self._parsed(ctx)
        if session_id not in parsed.transcripts:
            parsed.transcripts[session_id] = transcript_io.load(ctx.project.store.path(session_id, Names.TRANSCRIPT))
        return parsed.transcripts[session_id]

    def _analysis(self, ctx: Context, session_id: str) -> Analysis:
        parsed = self._parsed(ctx)
        if session_id not in parsed.analysed:
            terms = keywords_stage.term_index(ctx.project.catalogue.themes)
            analysed = analyse_session(self._transcript(ctx, session_id), self._nlp(ctx), ctx.project.settings.keywords, terms=terms)
            parsed.analysed[session_id] = analysed
        return parsed.analysed[session_id]

    def prepare(self, ctx: Context, session_ids: Sequence[str]) -> None:
        """Every session's candidates, parsed where the records cannot say them."""
        candidates: dict[str, tuple[str, ...]] = {}
        for session_id in ctx.project.store.sessions_with(Names.TRANSCRIPT):
            stored = None if ctx.force and session_id in session_ids else stored_candidates(ctx.project, session_id)
            if stored is not None:
                candidates[session_id] = stored
                continue
            try:
                candidates[session_id] = tuple(sorted(self._analysis(ctx, session_id).candidates))
            except ModelError:
                raise
            except PipelineError:
                candidates[session_id] = ()  # reported by its own step
        ctx.prepared["keywords.series"] = Series(candidates, True)

    def fingerprint(self, ctx: Context, session_id: str) -> str:
        return keywords_fingerprints(ctx.project, session_id, self._series(ctx))[0]

    def plan(self, ctx: Context, session_id: str, state: SessionState, last: Last, pending: Sequence[str]) -> Step:
        """Keywords are ranked against the whole series: when another session's transcript or
        candidates are about to change, a session whose own inputs did not change waits."""
        series = self._series(ctx)
        inputs, own = keywords_fingerprints(ctx.project, session_id, series)
        step = recorded(self, ctx.project, session_id, state, inputs, last)
        record = state.stages.get(self.name)
        own_unchanged = record is not None and record.facts.get("own") == own
        uncertain = [s for s in pending if s != session_id] or (
            [] if series.complete else ["a session whose keywords must be parsed again"]
        )
        if uncertain and own_unchanged and step.state in (State.DONE, State.STALE):
            return Step(self.name, State.WAITING, f"the series' word frequencies may change ({', '.join(uncertain[:3])})", inputs)
        if step.state is State.STALE and own_unchanged:
            return Step(self.name, State.STALE, "the series changed (word frequencies)", inputs)
        return step

    def run(self, ctx: Context, session_id: str, inputs: str) -> Outcome:
        project = ctx.project
        store = project.store
        series = self._series(ctx)
        options = project.settings.keywords
        found = self._analysis(ctx, session_id)
        nlp = self._nlp(ctx)
        model = ctx.models.get("theme model", lambda: ThemeModel.build(nlp, project.catalogue.themes))
        transcript = self._transcript(ctx, session_id)
        session = project.session(session_id)
        speakers = [*(s.name for s in session.speakers), *(s.name for s in transcript.speakers)]
        extracted = extract_keywords(
            transcript,
            found.candidates,
            nlp,
            model,
            session.title,
            series.frequencies,
            series.documents,
            options,
            curation=project.curation.of(session_id),
            speakers=speakers,
            words=found.words,
            session_themes=session.themes,
        )
        made = keywords_stage.provenance(
            nlp, store.sha256(session_id, Names.TRANSCRIPT), keywords_options_digest(project), series.documents
        )
        extracted = replace(extracted, provenance={**made, **extracted.provenance})
        files = {
            Names.KEYWORDS: keywords_stage.dumps(extracted),
            Names.KEYWORDS_MD: keywords_stage.to_markdown(extracted, session.title, project.catalogue.themes),
        }
        facts = {
            "own": keywords_fingerprints(project, session_id, series)[1],
            "series": series.digest_for(session_id),
            "candidates_of": candidates_key(project, session_id),
            "candidates": sorted(found.candidates),
        }
        return Outcome("keywords", files, transcript.duration, facts)
