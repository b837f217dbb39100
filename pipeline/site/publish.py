"""Publish the reviewed syntheses as a static website (``outputs/site/``).

Build, then render (as Pelican does): every session is loaded first, so the index, theme
pages, chart, search index and feed know all of them. The site is written to a temporary
folder that replaces ``outputs/site`` in one rename: a reader never sees half a site.

Safety: transcript, catalogue and keyword text reach HTML only through jinja2's
autoescaping; the editors' Markdown is rendered by Python-Markdown, then cleaned by nh3 with
an allowlist; session ids are checked by the store, so no path leaves ``outputs/``. The
site makes no request outside itself and works from ``file://`` as from any static host.
"""

from __future__ import annotations

import base64
import bisect
import concurrent.futures
import datetime as dt
import functools
import itertools
import json
import os
import re
import shutil
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin
from xml.sax.saxutils import escape as sax_escape

import markdown
import nh3
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from .. import __version__
from .. import keywords as keywords_io
from .. import transcript as transcript_io
from ..catalogue import Catalogue, Theme
from ..errors import PipelineError
from ..keywords import SessionKeywords
from ..media import MEDIA_SUFFIXES
from ..sentences import sentences_of
from ..settings import DEFAULT_RIGHTS
from ..store import Names, Store, sha256_bytes, write_error
from ..subtitles import paragraphs, short_clock, to_vtt, vtt_time
from ..synthesis import MIN_COVERAGE, french_typography, read_synthesis
from ..text import date_label, duration_label, speaking_label, utc_now, xml_safe

SITE_TITLE = "Les nouveaux enjeux de la transition numérique des villes"
ALLOWED_TAGS = {
    "a",
    "abbr",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "dl",
    "dt",
    "em",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"align"}, "th": {"align"}}
VIDEO_SUFFIXES = {".mp4", ".webm", ".mkv", ".mov"}


@dataclass(frozen=True)
class Passage:
    """A quoted sentence with its moment."""

    seconds: int
    clock: str
    text: str
    speaker: str = ""


@dataclass(frozen=True)
class SearchPart:
    """A session's share of the search index, made where the session is loaded (in parallel)."""

    entries: tuple[tuple[str, str, int | None, str], ...]
    """Kind, clock, start (seconds, for a transcript paragraph) and text of each entry."""
    words: Mapping[str, tuple[int, int, int, str]]
    """For each whole word: the first entry holding it, how often it occurs there, the last
    entry holding it, and the postings after the first, already coded (see ``search_index``)."""


@dataclass(frozen=True)
class SessionPage:
    """Everything a session's pages need, loaded before anything is rendered."""

    id: str
    title: str
    number: int | None
    date: str | None
    date_label: str
    duration: str
    seconds: float
    """The recording's length."""
    status: str
    """Editorial status: ``draft``, ``review`` or ``published``."""
    replay_url: str | None
    themes: tuple[Theme, ...]
    speakers: tuple[Mapping[str, str], ...]
    brief: tuple[str, ...]
    chapters: tuple[tuple[int, str], ...]
    synthesis_html: str
    paragraphs: tuple[Mapping[str, Any], ...]
    voices: tuple[Mapping[str, Any], ...]
    keywords: tuple[Mapping[str, Any], ...]
    coverage: Mapping[str, float]
    passages: Mapping[str, tuple[Passage, ...]]
    theme_keywords: Mapping[str, tuple[str, ...]]
    model: str
    captions: str
    recording: Path | None
    updated: str
    files: Mapping[str, Path] = field(default_factory=dict)
    search: SearchPart = SearchPart((), {})

    @property
    def model_label(self) -> str:
        """The model as readers name it (« Whisper base »), without its revision hash."""
        name = self.model.split("@", 1)[0].rsplit("/", 1)[-1]
        size = name.removeprefix("faster-whisper-").removeprefix("whisper-")
        return f"Whisper {size}" if size != name or "whisper" in name.lower() else name

    @property
    def draft(self) -> bool:
        """Not (yet) declared published by an editor: marked wherever it appears."""
        return self.status != "published"

    @property
    def status_label(self) -> str:
        """The status as readers see it."""
        return {"draft": "Brouillon non relu", "review": "En relecture, non validé"}.get(self.status, "Relu et publié")

    @property
    def media_kind(self) -> str:
        """``video`` or ``audio``, for the player element."""
        source = self.recording.suffix if self.recording else Path(self.replay_url or "").suffix
        return "video" if source.lower() in VIDEO_SUFFIXES else "audio"


UTF8_BOM = b"\xef\xbb\xbf"


def sanitize(html: str) -> str:
    """Editors' Markdown as HTML, reduced to an allowlist of tags, attributes and schemes."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"http", "https", "mailto"})


def typeset(html: str) -> str:
    """French typography (no-break spaces) in the text of HTML, never inside a tag, an
    entity, ``<code>`` or ``<pre>``."""
    out, verbatim = [], 0
    for part in re.split(r"(<[^>]*>)", html):
        if part.startswith("<"):
            name = re.match(r"</?\s*(\w+)", part)
            if name and name.group(1).lower() in {"code", "pre"}:
                verbatim += -1 if part.startswith("</") else 1
            out.append(part)
        elif verbatim > 0 or not part:
            out.append(part)
        else:
            # entities (&amp; &#39;) end with a ';' that is not punctuation
            pieces = re.split(r"(&#?\w+;)", part)
            out.append("".join(p if p.startswith("&") and p.endswith(";") else french_typography(p) for p in pieces))
    return "".join(out)


TAG_START = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)(?=[\s/>])")
"""The start of an HTML tag in an editor's Markdown (an autolink, ``<https://…>``, is not one)."""


def render_markdown(body: str) -> str:
    """Synthesis body to safe HTML; its own title is dropped (the page has one), and so is a
    heading with nothing under it (« Thèmes abordés » when no theme was chosen). A tag outside
    the allowlist is shown as text, never interpreted: an element that would swallow the rest
    of the page (an unclosed ``<style>``, ``<math>``, ``<mi>``…) cannot."""
    body = TAG_START.sub(lambda m: m.group(0) if m.group(2).lower() in ALLOWED_TAGS else f"&lt;{m.group(1)}{m.group(2)}", body)
    lines = body.lstrip("\n").splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    lines = _without_empty_sections(lines)
    # The page puts the synthesis under its own h2: its headings move one level down.
    lines = ["#" + line if line.startswith("#") else line for line in lines]
    return typeset(sanitize(markdown.markdown("\n".join(lines), extensions=["extra", "sane_lists"], output_format="html")))


def _without_empty_sections(lines: list[str]) -> list[str]:
    """The lines without the headings whose section holds nothing before the next heading of
    the same or a higher level."""

    def level(line: str) -> int:
        match = re.match(r"^(#{1,6})\s", line)
        return len(match.group(1)) if match else 0

    kept = []
    for index, line in enumerate(lines):
        depth = level(line)
        if depth:
            rest = (other for other in lines[index + 1 :] if other.strip())
            following = next(rest, None)
            if following is None or 0 < level(following) <= depth:
                continue
        kept.append(line)
    return kept


def _reading(transcript: transcript_io.Transcript, sentences: Sequence[Any]) -> tuple[Mapping[str, Any], ...]:
    """The transcript's paragraphs as the page shows them, each with its sentences and their
    start times (each sentence seeks the player)."""
    by_segment: dict[int, list[Any]] = {}
    for unit in sentences:
        by_segment.setdefault(unit.segment_id, []).append(unit)
    result = []
    for p in paragraphs(transcript):
        units = [{"start": round(u.start, 3), "text": u.text} for i in p.segment_ids for u in by_segment.get(i, [])]
        result.append(
            {
                "start": round(p.start, 3),
                "clock": short_clock(p.start),
                "text": p.text,
                "speaker": p.speaker,
                "turn": p.turn,
                "sentences": units or [{"start": round(p.start, 3), "text": p.text}],
            }
        )
    return tuple(result)


QUOTED = re.compile(r"^\s*[-*] \[[\d:]+\]\(#t=(\d+)\)\s*(.+?)\s*$")


def synthesis_passages(body: str, themes: Sequence[Theme]) -> dict[str, list[tuple[int, str]]]:
    """The passages the (edited) synthesis quotes under each theme's heading (« ### Sobriété
    (64 % de la séance) », then « - [00:24](#t=24) « … » » lines): what the editor kept."""
    found: dict[str, list[tuple[int, str]]] = {}
    current = None
    for line in body.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip().casefold()
            current = next((t.id for t in themes if heading.startswith(t.label.casefold())), None)
        elif current is not None and (match := QUOTED.match(line)):
            text = match.group(2).strip().removeprefix("«").removesuffix("»").strip()
            found.setdefault(current, []).append((int(match.group(1)), text))
    return found


def _speaker_at(turns: Sequence[tuple[float, str]], seconds: float) -> str:
    """Who speaks at ``seconds``: the speaker of the last paragraph started by then."""
    index = bisect.bisect_right([start for start, _ in turns], seconds + 0.5) - 1
    return turns[index][1] if index >= 0 else ""


def load_session(store: Store, catalogue: Catalogue, session_id: str, recordings: Path | None = None) -> SessionPage:
    """Read a session's synthesis (the editor's version), transcript and keywords; the
    recording, when it is in ``recordings``, becomes the page's player source."""
    synthesis_path = store.path(session_id, Names.SYNTHESIS)
    edited = read_synthesis(store.read_text(session_id, Names.SYNTHESIS), synthesis_path)
    front, body = edited.front_matter, edited.body
    transcript = transcript_io.load(store.path(session_id, Names.TRANSCRIPT))
    found: SessionKeywords = keywords_io.load(store.path(session_id, Names.KEYWORDS))
    session = next((s for s in catalogue.sessions if s.id == session_id), None)
    themes_by_id = {t.id: t for t in catalogue.themes}
    theme_ids = [t for t in front.get("themes") or (session.themes if session else ()) if t in themes_by_id]
    sentences = sentences_of(transcript)
    reading = _reading(transcript, sentences)
    speaker_at = functools.partial(_speaker_at, [(float(p["start"]), str(p["speaker"] or "")) for p in reading])
    passages = {
        theme_id: tuple(Passage(seconds, short_clock(seconds), text, speaker_at(seconds)) for seconds, text in quoted)
        for theme_id, quoted in synthesis_passages(body, list(themes_by_id.values())).items()
    }
    for summary in found.themes:  # a theme the synthesis does not quote: the start of its passages
        if summary.theme_id in passages or summary.share < MIN_COVERAGE:
            continue
        starts = [p.first for p in found.passages if p.theme == summary.theme_id and 0 <= p.first < len(sentences)]
        chosen = [sentences[i] for i in starts[:3]]
        passages[summary.theme_id] = tuple(Passage(int(u.start), short_clock(u.start), u.text, speaker_at(u.start)) for u in chosen)
    recording = None
    if session and session.recording:
        candidate = (recordings or store.root.parent / "recordings") / session.recording
        recording = candidate if candidate.exists() else None
    replay = front.get("replay_url") or (session.replay_url if session else None)
    voices = tuple({"name": s.name, "role": s.role, "time": speaking_label(s.seconds)} for s in transcript.speakers)
    keywords = tuple(
        {"surface": k.surface, "count": k.count, "theme": next((t for t in k.themes if t in themes_by_id), None)} for k in found.keywords
    )
    return SessionPage(
        id=session_id,
        title=str(front.get("title") or (session.title if session else session_id)),
        number=front.get("session") if isinstance(front.get("session"), int) else (session.number if session else None),
        date=str(front.get("date")) if front.get("date") else (session.date if session else None),
        date_label=date_label(front.get("date") or (session.date if session else None)),
        duration=duration_label(transcript.duration),
        seconds=transcript.duration,
        status=edited.status,
        replay_url=replay if isinstance(replay, str) and replay.startswith(("http://", "https://")) else None,
        themes=tuple(themes_by_id[t] for t in theme_ids),
        speakers=tuple(
            {"name": str(s.get("name", "")), "role": str(s.get("role", ""))} for s in front.get("speakers") or [] if isinstance(s, dict)
        ),
        brief=edited.brief,
        chapters=edited.chapters,
        synthesis_html=render_markdown(body),
        paragraphs=reading,
        voices=voices,
        keywords=keywords,
        coverage={t.theme_id: t.share for t in found.themes},
        passages=passages,
        theme_keywords={
            t.theme_id: tuple(next(k.surface for k in found.keywords if k.lemma == lemma) for lemma in t.keywords) for t in found.themes
        },
        model=transcript.provenance.model.id,
        # The stored captions: an editor may have corrected them.
        captions=store.read_text(session_id, Names.TRANSCRIPT_VTT)
        if store.path(session_id, Names.TRANSCRIPT_VTT).exists()
        else to_vtt(transcript),
        recording=recording,
        updated=dt.datetime.fromtimestamp(synthesis_path.stat().st_mtime, dt.timezone.utc).isoformat(timespec="seconds"),
        files={name: store.path(session_id, name) for name in Names.DOWNLOADS if store.path(session_id, name).exists()},
        search=search_part(edited.lines, voices, keywords, reading),
    )


def chapters_vtt(chapters: Sequence[tuple[int, str]], duration: float) -> str:
    """A WebVTT chapters track: each chapter from its start to the next one's."""
    lines = ["WEBVTT", ""]
    for index, (start, title) in enumerate(chapters):
        end = chapters[index + 1][0] if index + 1 < len(chapters) else max(duration, start + 1)
        lines += [f"{vtt_time(start)} --> {vtt_time(end)}", xml_safe(title).replace("-->", "→"), ""]
    return "\n".join(lines)


def iso_duration(seconds: float) -> str:
    """ISO 8601 duration (``PT1H5M3S``), as schema.org wants it."""
    whole = int(round(seconds))
    hours, minutes, rest = whole // 3600, whole % 3600 // 60, whole % 60
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + f"{rest}S"


def json_ld(s: SessionPage, media_src: str, page_url: str = "") -> str:
    """schema.org ``VideoObject`` (or ``AudioObject``) for a session with its media, each
    chapter a ``Clip`` (search engines show them as key moments); inert inside ``<script>``.
    Addresses are absolute when the page's own (``page_url``) is known, relative otherwise."""
    parts = []
    for index, (start, title) in enumerate(s.chapters):
        end = s.chapters[index + 1][0] if index + 1 < len(s.chapters) else int(s.seconds)
        parts.append(
            {"@type": "Clip", "name": title, "startOffset": start, "endOffset": max(end, start + 1), "url": f"{page_url}#t={start}"}
        )
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "VideoObject" if s.media_kind == "video" else "AudioObject",
        "name": s.title,
        "description": " ".join(s.brief) or s.title,
        "inLanguage": "fr",
        "duration": iso_duration(s.seconds),
        "contentUrl": urljoin(page_url, media_src),
    }
    if s.date:
        data["uploadDate"] = s.date
    if parts:
        data["hasPart"] = parts
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def coverage_chart(sessions: Sequence[SessionPage], themes: Sequence[Theme]) -> tuple[str, str]:
    """An SVG heat map of theme coverage per session, readable without JavaScript, with
    the same figures as a table for screen readers and text browsers."""
    shown = [t for t in themes if t.kind == "theme"]
    rows = sorted(sessions, key=lambda s: (s.date or "", s.id))
    cell, left, top = 64, 220, 120
    width, height = left + cell * len(shown) + 130, top + cell * len(rows) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" aria-labelledby="chart-title chart-desc" '
        f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px">',
        '<title id="chart-title">Couverture des thèmes par séance</title>',
        '<desc id="chart-desc">Pour chaque séance (lignes) et chaque thème (colonnes), la part du temps de parole classée '
        "sous le thème ; plus la case est marquée, plus la part est grande. Un passage est classé sous un thème au plus, "
        "ou sous aucun.</desc>",
    ]
    for column, theme in enumerate(shown):
        x = left + column * cell + cell / 2
        parts.append(
            f'<text class="label" x="{x}" y="{top - 8}" transform="rotate(-40 {x} {top - 8})" font-size="12" fill="#1a1a1a">'
            f"{escape(theme.label)}</text>"
        )
    for row, session in enumerate(rows):
        y = top + row * cell
        label = f"{session.date or ''} {session.title}".strip()
        parts.append(
            f'<text class="label" x="{left - 8}" y="{y + cell / 2 + 4}" text-anchor="end" font-size="12" fill="#1a1a1a">'
            f"{escape(label[:32])}</text>"
        )
        for column, theme in enumerate(shown):
            share = session.coverage.get(theme.id, 0.0)
            x = left + column * cell
            strong = share > 0.5
            parts.append(
                f'<rect class="cell" x="{x + 2}" y="{y + 2}" width="{cell - 4}" height="{cell - 4}" fill="#1d3557" stroke="#1d3557" '
                f'fill-opacity="{0.08 + 0.92 * share:.2f}">'
                f"<title>{escape(session.title)} — {escape(theme.label)} : {share:.0%}</title></rect>"
            )
            parts.append(
                f'<text class="{"strong" if strong else "weak"}" x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle" '
                f'font-size="12" fill="{"#ffffff" if strong else "#1a1a1a"}">{share * 100:.0f}</text>'
            )
    parts.append("</svg>")
    table = [
        '<table class="coverage"><caption>Part du temps de parole classée sous chaque thème '
        "(%, un passage est classé sous un thème au plus)</caption>"
        '<thead><tr><th scope="col">Séance</th>'
    ]
    table += [f'<th scope="col">{escape(t.label)}</th>' for t in shown]
    table.append("</tr></thead><tbody>")
    for session in rows:
        table.append(
            f'<tr><th scope="row">{escape(session.title)}</th>'
            + "".join(f"<td>{session.coverage.get(t.id, 0.0) * 100:.0f}</td>" for t in shown)
            + "</tr>"
        )
    table.append("</tbody></table>")
    return "\n".join(parts), "<details><summary>Les mêmes chiffres en tableau</summary>" + "".join(table) + "</details>"


SEARCH_FOLDER = "assets/search"
SHARD_BYTES = 40_000
"""A shard of the word index above this size is split by one more letter of its words."""
CHUNK_ENTRIES = 40
"""Entries (paragraphs, synthesis lines) per text file: a result needs only its own."""


def fold(text: str) -> str:
    """Text as search compares it: no accents, lower case; one character per character, as
    ``search.js`` folds it (NFD, combining marks removed, then lower case)."""
    return re.sub("[\u0300-\u036f]", "", unicodedata.normalize("NFD", text)).lower()


def search_words(text: str) -> list[str]:
    """The whole words of ``text`` as the index keys them (``search.js`` splits queries the same way)."""
    return [w for w in re.split(r"[^a-z0-9]+", fold(text)) if w]


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _shards(words: Mapping[str, Any], length: int = 1) -> dict[str, dict[str, Any]]:
    """Words grouped by their first ``length`` letters; a group too large for one file is
    split by one more letter (its words of exactly ``length`` letters stay in it)."""
    groups: dict[str, dict[str, Any]] = {}
    for word, value in words.items():
        groups.setdefault(word[:length], {})[word] = value
    result: dict[str, dict[str, Any]] = {}
    for key, group in groups.items():
        longer = {w: v for w, v in group.items() if len(w) > length}
        if longer and len(json.dumps(group, ensure_ascii=False)) > SHARD_BYTES:
            result[key] = {w: v for w, v in group.items() if len(w) == length}
            result.update(_shards(longer, length + 1))
        else:
            result[key] = group
    return result


def _script(name: str, data: Any) -> bytes:
    # Inside a <script> file, "</" cannot end anything, but keep the JSON inert anyway.
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return f"window.SEARCH_LOADED({json.dumps(name)},{payload});\n".encode()


@functools.lru_cache(maxsize=65536)
def _posting(delta: int, count: int) -> str:
    return _base36(delta) if count == 1 else f"{_base36(delta)}*{_base36(count)}"


def search_part(
    synthesis: Sequence[tuple[int | None, str]],
    voices: Sequence[Mapping[str, Any]],
    keywords: Sequence[Mapping[str, Any]],
    reading: Sequence[Mapping[str, Any]],
) -> SearchPart:
    """A session's entries (every line of the editor's synthesis, with its moment when it
    links to one; speakers, keywords, transcript paragraphs) and the postings of their words,
    numbered from the session's first entry."""
    entries: list[tuple[str, str, int | None, str]] = [
        ("synthèse", short_clock(moment) if moment is not None else "", moment, text) for moment, text in synthesis
    ]
    if voices:
        entries.append(("intervenants", "", None, ", ".join(f"{v['name']} ({v['role']})" if v["role"] else str(v["name"]) for v in voices)))
    if keywords:
        entries.append(("mots-clés", "", None, ", ".join(str(k["surface"]) for k in keywords)))
    entries += [("transcription", str(p["clock"]), int(p["start"]), str(p["text"])) for p in reading]
    holders: dict[str, list[tuple[int, int]]] = {}
    for number, entry in enumerate(entries):
        for word, count in Counter(search_words(entry[3])).items():
            holders.setdefault(word, []).append((number, count))
    words = {}
    for word, found in holders.items():
        rest = ",".join(_posting(b[0] - a[0], b[1]) for a, b in itertools.pairwise(found))
        words[word] = (found[0][0], found[0][1], found[-1][0], rest)
    return SearchPart(tuple(entries), words)


def search_index(sessions: Sequence[SessionPage]) -> dict[str, bytes]:
    """The search index, in parts that the browser loads as a query needs them (as Pagefind
    does, but as scripts, so that it works from ``file://``): ``manifest.js`` (sessions and
    word-shard keys), ``t-<prefix>.js`` (for each whole word, the entries holding it and how
    often: each entry as its distance to the previous one in base 36, ``*n`` when the word
    occurs n times; and the sessions whose title holds it), ``d-<n>.js`` (the entries' text,
    40 at a time, for snippets). A first result costs the manifest, the shards of the query's
    words and one text file, whatever the size of the series."""
    entries: list[list[Any]] = []
    catalogue: list[list[Any]] = []
    title_words: dict[str, list[int]] = {}
    pieces: dict[str, list[str]] = {}
    previous: dict[str, int] = {}
    for number, s in enumerate(sessions):
        title = f"{s.title} ({s.status_label.lower()})" if s.draft else s.title
        offset = len(entries)
        entries += [[number, *entry] for entry in s.search.entries]
        catalogue.append([title, f"sessions/{s.id}/index.html", offset, len(s.search.entries)])
        for word in dict.fromkeys(search_words(title)):
            title_words.setdefault(word, []).append(number)
        for word, (first, count, last, rest) in s.search.words.items():
            head = _posting(offset + first - previous.get(word, 0), count)
            pieces.setdefault(word, []).append(f"{head},{rest}" if rest else head)
            previous[word] = offset + last
    words: dict[str, Any] = {word: ",".join(parts) for word, parts in pieces.items()}
    for word, numbers in title_words.items():
        words[word] = [words.get(word, ""), numbers]
    shards = _shards(words)
    files = {f"{SEARCH_FOLDER}/t-{key}.js": _script(f"t-{key}", shard) for key, shard in shards.items()}
    for chunk in range(0, len(entries), CHUNK_ENTRIES):
        name = f"d-{chunk // CHUNK_ENTRIES}"
        files[f"{SEARCH_FOLDER}/{name}.js"] = _script(name, entries[chunk : chunk + CHUNK_ENTRIES])
    manifest = {"sessions": catalogue, "keys": sorted(shards), "chunk": CHUNK_ENTRIES}
    files[f"{SEARCH_FOLDER}/manifest.js"] = _script("manifest", manifest)
    return files


def read_search_index(site: Path) -> list[dict[str, Any]]:
    """Every entry of a published site's search index (title, kind, clock, url, text), as a
    reader's browser assembles them: for tests and tools."""

    def data(name: str) -> Any:
        text = (site / SEARCH_FOLDER / f"{name}.js").read_text(encoding="utf-8")
        return json.loads(text.split(",", 1)[1].rstrip().removesuffix(";").removesuffix(")"))

    sessions = data("manifest")["sessions"]
    result = []
    for path in sorted((site / SEARCH_FOLDER).glob("d-*.js"), key=lambda p: int(p.stem[2:])):
        for number, kind, moment, start, text in data(path.stem):
            title, url = sessions[number][:2]
            result.append(
                {"title": title, "kind": kind, "clock": moment, "url": url if start is None else f"{url}#t={start}", "text": text}
            )
    return result


def escape(text: str) -> str:
    """Text for the SVG chart and the feed: XML-escaped, without what XML cannot hold."""
    return sax_escape(xml_safe(text))


def _finalize(value: Any) -> Any:
    """Every value a template prints, without what XML and HTML cannot hold."""
    if isinstance(value, Markup):
        return Markup(xml_safe(str(value)))
    return xml_safe(value) if isinstance(value, str) else value


def about_page(catalogue: Catalogue, sessions: Sequence[SessionPage], rights: str) -> dict[str, Any]:
    """What the « À propos » page shows: the series, its programme (the announced sessions,
    linked once published, then any published session the programme does not list), its
    themes, and how its material may be reused."""
    published = {s.number: s for s in sessions if s.number is not None}
    programme: list[dict[str, Any]] = []
    for planned in catalogue.series.programme:
        page = published.pop(planned.number, None) if planned.number is not None else None
        label = date_label(planned.date) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", planned.date) else planned.date
        programme.append(
            {
                "number": planned.number,
                "date_label": page.date_label if page and page.date else label,
                "title": planned.title,
                "description": planned.description,
                "href": f"sessions/{page.id}/index.html" if page else "",
            }
        )
    listed = {id(p) for p in published.values()}
    for s in sorted(sessions, key=lambda s: (s.date or "", s.id)):
        if s.number is None or id(s) in listed:
            programme.append(
                {"number": s.number, "date_label": s.date_label, "title": s.title, "description": "", "href": f"sessions/{s.id}/index.html"}
            )
    return {"series": catalogue.series, "programme": programme, "themes": catalogue.themes, "rights": catalogue.series.rights or rights}


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("pipeline.site", "templates"),
        autoescape=select_autoescape(["html", "xml"]),
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    # one form for a moment on every page, as in the syntheses: 04:05, 1:02:03
    env.filters["moment"] = short_clock
    env.filters["unlink_moments"] = unlink_moments
    env.filters["links_from"] = links_from
    env.filters["typo"] = french_typography
    return env


MOMENT_HREF = re.compile(r'<a href="#t=[^"]*"[^>]*>(.*?)</a>', re.S)
RELATIVE_HREF = re.compile(r'href="(?![a-z][a-z0-9+.-]*:|/)([^"]*)"')


def unlink_moments(html: str) -> str:
    """A synthesis on a page without a player: its moments are text, not links that lead
    nowhere."""
    return MOMENT_HREF.sub(r'<span class="clock">\1</span>', str(html))


def links_from(html: str, page: str) -> str:
    """A session's synthesis read elsewhere (the feed): its relative links made relative to
    where it is read, ``page`` being the session page's address from there."""
    folder = page.rsplit("/", 1)[0] + "/"
    return RELATIVE_HREF.sub(lambda m: f'href="{page if m.group(1).startswith("#") else folder}{m.group(1)}"', str(html))


@dataclass(frozen=True)
class Skipped:
    """A session left out of the site, and why (one line)."""

    session_id: str
    error: str
    failed: bool = True
    """False for a draft kept off the site on purpose (``[publish] drafts = "hide"``)."""

    def one_line(self) -> str:
        """The reason, as the run summary prints it."""
        return self.error


def _load_or_explain(store: Store, catalogue: Catalogue, recordings: Path | None, session_id: str) -> SessionPage | Skipped:
    try:
        return load_session(store, catalogue, session_id, recordings)
    except PipelineError as exc:
        return Skipped(session_id, f"{exc.one_line()} — the session is left out of the site")
    except Exception as exc:  # one bad session never stops the others' publication
        return Skipped(
            session_id,
            f"{store.session_dir(session_id)}: cannot be published ({type(exc).__name__}: {exc}) "
            "(fix the file, or run `pipeline run` for it)",
        )


def load_sessions(store: Store, catalogue: Catalogue, recordings: Path | None = None) -> tuple[list[SessionPage], list[Skipped]]:
    """Every publishable session (build first, as Pelican does), and those left out."""
    ids = store.sessions_with(Names.SYNTHESIS)
    load = functools.partial(_load_or_explain, store, catalogue, recordings)
    workers = min(len(ids) // 8, os.cpu_count() or 1)
    if workers > 1:  # loading (JSON, Markdown) dominates a large rebuild: use every core
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            loaded = list(pool.map(load, ids, chunksize=4))
    else:
        loaded = [load(session_id) for session_id in ids]
    pages = [p for p in loaded if isinstance(p, SessionPage)]
    return sorted(pages, key=lambda s: (s.date or "", s.id), reverse=True), [p for p in loaded if isinstance(p, Skipped)]


def build_site(
    store: Store,
    catalogue: Catalogue,
    base_url: str = "",
    recordings: Path | None = None,
    drafts: str = "mark",
    rights: str = DEFAULT_RIGHTS,
) -> tuple[dict[str, bytes | Path], list[Skipped]]:
    """Every file of the site, by relative path (rendered bytes, or a file to copy), and
    the sessions left out. A synthesis not declared published is marked as a draft wherever
    it appears (``drafts="mark"``) or kept off the site (``"hide"``)."""
    sessions, skipped = load_sessions(store, catalogue, recordings)
    if drafts == "hide":
        skipped += [
            Skipped(
                s.id,
                f"{store.path(s.id, Names.SYNTHESIS)}: {s.status_label.lower()}, kept off the site until its status is published",
                False,
            )
            for s in sessions
            if s.draft
        ]
        sessions = [s for s in sessions if not s.draft]
    env = _environment()
    common = {"site_title": SITE_TITLE, "generator": f"villes-numeriques-pipeline {__version__}", "names": Names}
    svg, table = coverage_chart(sessions, catalogue.themes)
    chart = svg + table
    files: dict[str, bytes | Path] = {
        "index.html": env.get_template("index.html").render(common, root="", sessions=sessions, chart=chart).encode(),
        "search.html": env.get_template("search.html").render(common, root="").encode(),
        "themes/index.html": env.get_template("themes.html").render(common, root="../", themes=catalogue.themes, chart=chart).encode(),
        "coverage.svg": svg.encode(),
    }
    files.update(search_index(sessions))
    # shown by a server at any depth: absolute links when the address is known, else from the host's root
    root_404 = base_url.rstrip("/") + "/" if base_url else "/"
    # its stylesheet inside it: a server shows it at any depth, where no relative link resolves
    inline_css = (Path(__file__).parent / "static" / "style.css").read_text(encoding="utf-8")
    files["404.html"] = env.get_template("404.html").render(common, root=root_404, inline_css=inline_css).encode()
    files["about.html"] = env.get_template("about.html").render(common, root="", **about_page(catalogue, sessions, rights)).encode()
    files["feed.html"] = (
        env.get_template("feed.html")
        .render(common, root="", sessions=sessions, base_url=base_url.rstrip("/") + "/" if base_url else "")
        .encode()
    )
    static = Path(__file__).parent / "static"
    for asset in sorted(static.iterdir()):
        files[f"assets/{asset.name}"] = asset
    for theme in catalogue.themes:
        entries = [
            {
                "session": s,
                "coverage": f"{s.coverage.get(theme.id, 0.0) * 100:.0f}\u202f%",
                "keywords": s.theme_keywords.get(theme.id, ()),
                "passages": s.passages.get(theme.id, ()),
            }
            for s in sorted(sessions, key=lambda s: (-s.coverage.get(theme.id, 0.0), s.id))  # the sessions that deal with it most first
            if s.coverage.get(theme.id, 0.0) >= MIN_COVERAGE or theme in s.themes  # filed, or tagged by the editor
        ]
        files[f"themes/{theme.id}.html"] = env.get_template("theme.html").render(common, root="../", theme=theme, entries=entries).encode()
    chronological = sorted(sessions, key=lambda s: (s.date or "", s.id))
    for position, s in enumerate(chronological):
        prefix = f"sessions/{s.id}/"
        neighbours = {
            "previous": chronological[position - 1] if position > 0 else None,
            "next": chronological[position + 1] if position + 1 < len(chronological) else None,
        }
        media_src = None
        if s.recording is not None:
            media_src = f"../../media/{s.id}{s.recording.suffix.lower()}"
            files[f"media/{s.id}{s.recording.suffix.lower()}"] = s.recording
        elif s.replay_url and Path(s.replay_url.split("?")[0]).suffix.lower() in MEDIA_SUFFIXES:
            media_src = s.replay_url
        captions_src = "data:text/vtt;charset=utf-8;base64," + base64.b64encode(s.captions.encode()).decode()
        chapters_src = ""
        if s.chapters:
            chapters = chapters_vtt(s.chapters, s.seconds)
            files[prefix + "chapters.vtt"] = chapters.encode()
            chapters_src = "data:text/vtt;charset=utf-8;base64," + base64.b64encode(chapters.encode()).decode()
        html = env.get_template("session.html").render(
            common,
            root="../../",
            s=s,
            media_src=media_src,
            captions_src=captions_src,
            chapters_src=chapters_src,
            json_ld=Markup(json_ld(s, media_src, urljoin(base_url.rstrip("/") + "/", prefix + "index.html") if base_url else ""))
            if media_src
            else "",
            **neighbours,
        )
        files[prefix + "index.html"] = html.encode()
        files[prefix + "captions.vtt"] = s.captions.encode()
        for name, path in s.files.items():
            # a byte-order mark: browsers read the text as UTF-8 even from a server that names no charset
            files[prefix + name] = UTF8_BOM + path.read_bytes() if name.endswith((".txt", ".md", ".srt")) else path
    updated = max((s.updated for s in sessions), default=utc_now())
    files["feed.xml"] = env.get_template("feed.xml").render(common, sessions=sessions, updated=updated, base_url=base_url).encode()
    if base_url:  # a sitemap needs absolute addresses
        pages = sorted(name for name in files if name.endswith(".html") and name != "404.html")
        root = base_url.rstrip("/") + "/"
        urls = "".join(f"<url><loc>{escape(root + name)}</loc></url>" for name in pages)
        files["sitemap.xml"] = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + urls + "</urlset>\n"
        ).encode()
    return files, skipped


def write_site(store: Store, files: Mapping[str, bytes | Path]) -> Path:
    """Write the site into a staging folder, then swap it in place of ``outputs/site`` at
    once. Sources are copied, never linked: an edit of a published file changes nothing else."""
    try:
        with store.replacing(store.site_dir) as staging:
            for relative, content in files.items():
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, Path):
                    shutil.copyfile(content, target)
                else:
                    target.write_bytes(content)
    except OSError as exc:
        raise write_error(exc, store.site_dir) from exc
    return store.site_dir


def publish(
    store: Store,
    catalogue: Catalogue,
    base_url: str = "",
    recordings: Path | None = None,
    drafts: str = "mark",
    rights: str = DEFAULT_RIGHTS,
) -> tuple[Path, list[Skipped], dict[str, str]]:
    """Build the whole site from ``store`` and write it to ``outputs/site``; the sessions that
    could not be published are returned with their reason, and the SHA-256 of every file
    written (for ``verify``)."""
    files, skipped = build_site(store, catalogue, base_url, recordings, drafts, rights)
    digests = {
        relative: sha256_bytes(content) if isinstance(content, bytes) else store.recording_sha256(content)
        for relative, content in files.items()
    }
    return write_site(store, files), skipped, dict(sorted(digests.items()))
