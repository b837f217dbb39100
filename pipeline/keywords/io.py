"""``keywords.json`` (versioned) and ``keywords.md`` (for editors)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..catalogue import Theme
from ..errors import TranscriptFormatError
from ..subtitles import short_clock
from .model import Keyword, Occurrence, SessionKeywords, ThemeKeywords, ThemePassage

SCHEMA = "https://github.com/villes-numeriques/pipeline/schemas/keywords"
SCHEMA_VERSION = 3  # 1 pointed at segments; 2 had no passages filed under themes


def to_dict(result: SessionKeywords) -> dict[str, Any]:
    """The JSON-ready form, with its schema version."""
    body = asdict(result)
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, **body, "provenance": dict(result.provenance)}


def dumps(result: SessionKeywords) -> str:
    """``keywords.json`` text."""
    return json.dumps(to_dict(result), ensure_ascii=False, indent=2) + "\n"


def loads(text: str, source: Path | str | None = None) -> SessionKeywords:
    """Parse ``keywords.json`` text back into objects; a hand-broken file is one clear error."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranscriptFormatError(
            source, f"line {exc.lineno}: not valid JSON ({exc.msg})", "fix the JSON syntax there, or delete the file and run again"
        ) from exc
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        raise TranscriptFormatError(
            source, f"keywords schema version {version!r} is not supported (expected {SCHEMA_VERSION})", "run `pipeline keywords --force`"
        )
    try:
        return SessionKeywords(
            session_id=str(data["session_id"]),
            keywords=tuple(
                Keyword(**{**k, "occurrences": tuple(Occurrence(**o) for o in k["occurrences"]), "themes": tuple(k["themes"])})
                for k in data["keywords"]
            ),
            themes=tuple(ThemeKeywords(**{**t, "keywords": tuple(t["keywords"])}) for t in data["themes"]),
            candidates=tuple(data["candidates"]),
            provenance=dict(data.get("provenance") or {}),
            passages=tuple(
                ThemePassage(**{**p, "probabilities": dict(p["probabilities"]), "evidence": tuple(p["evidence"])}) for p in data["passages"]
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TranscriptFormatError(
            source,
            f"does not match the keywords schema {SCHEMA_VERSION} ({type(exc).__name__}: {exc})",
            "undo the hand edit, or delete the file and run again",
        ) from exc


def load(path: Path) -> SessionKeywords:
    """Read a ``keywords.json`` file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TranscriptFormatError(path, f"cannot be read ({exc})", "run `pipeline keywords` to make it again") from exc
    return loads(text, path)


def to_markdown(result: SessionKeywords, title: str, themes: Sequence[Theme]) -> str:
    """``keywords.md``: per theme the passages filed under it, with their probability and the
    words that decided, and its keywords with the moments they are said; then the passages
    filed under no theme, and every keyword."""
    by_lemma = {k.lemma: k for k in result.keywords}
    lines = [f"# Mots-clés — {title or result.session_id}", ""]
    labels = {t.id: t.label for t in themes}
    kinds = {t.id: t.kind for t in themes}
    if result.passages:
        lines += [
            "Chaque passage d'environ 120 mots est classé sous le thème le plus probable quand sa probabilité atteint le seuil ; "
            "sinon il reste sans thème. Un thème n'est montré aux lecteurs que si ses passages font au moins 10 % de la séance. "
            "Pour corriger : le vocabulaire des thèmes (`recordings/themes.toml`), les thèmes de la séance (`recordings/sessions.toml`) "
            "ou les mots-clés (`recordings/keywords.toml`).",
            "",
        ]
    for kind, heading in (("theme", "Thèmes"), ("axis", "Axes transversaux")):
        lines += [f"## {heading}", ""]
        for summary in result.themes:
            if kinds.get(summary.theme_id) != kind:
                continue
            if kind == "theme" and result.passages:
                lines.append(
                    f"### {summary.label} — {summary.share:.0%} de la séance classée ici (probabilité moyenne {summary.coverage:.0%})"
                )
            else:
                lines.append(f"### {summary.label} — {summary.coverage:.0%} de la séance")
            lines.append("")
            filed = [p for p in result.passages if p.theme == summary.theme_id]
            if filed:
                lines += ["Passages classés sous ce thème :", ""]
                lines += [_passage_line(p, summary.theme_id) for p in filed]
                lines.append("")
            if not summary.keywords:
                lines += ["_Aucun mot-clé._", ""]
                continue
            for lemma in summary.keywords:
                keyword = by_lemma[lemma]
                moments = ", ".join(f"[{stamp}]" for stamp in dict.fromkeys(short_clock(o.start) for o in keyword.occurrences))
                lines.append(f"- **{keyword.surface}** ({keyword.count}) : {moments}")
            lines.append("")
    unfiled = [p for p in result.passages if not p.theme]
    if unfiled:
        lines += ["## Passages sans thème", ""]
        for passage in unfiled:
            best = max((t for t in passage.probabilities if kinds.get(t) == "theme"), key=lambda t: passage.probabilities[t], default="")
            guess = f" ; le plus probable : {labels.get(best, best)} ({passage.probabilities[best]:.0%})" if best else ""
            lines.append(f"- {_span(passage)} : aucun thème{guess}")
        lines.append("")
    lines += ["## Tous les mots-clés", "", "| rang | mot-clé | occurrences | score | thèmes |", "|---|---|---|---|---|"]
    for index, keyword in enumerate(result.keywords, start=1):
        tags = ", ".join(labels.get(t, t) for t in keyword.themes) or "—"
        lines.append(f"| {index} | {keyword.surface} | {keyword.count} | {keyword.score:.2f} | {tags} |")
    return "\n".join(lines) + "\n"


def _span(passage: ThemePassage) -> str:
    return f"[{short_clock(passage.start)}–{short_clock(passage.end)}]"


def _passage_line(passage: ThemePassage, theme_id: str) -> str:
    words = ", ".join(passage.evidence) or "—"
    return f"- {_span(passage)} probabilité {passage.probabilities.get(theme_id, 0.0):.0%} ; mots du thème : {words}"
