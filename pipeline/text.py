"""Text that every output format can carry.

XML 1.0 (the Atom feed, the SVG chart, Dublin Core) forbids control characters other than tab,
newline and carriage return, and the non-characters U+FFFE and U+FFFF; a title pasted from a
word processor can hold them. :func:`xml_safe` removes them, at the one place each writer goes
through (the site's templates, the chart, the archive's XML).
"""

from __future__ import annotations

import datetime as dt
import re

NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold."""
    return NOT_IN_XML.sub("", text)


def duration_label(seconds: float) -> str:
    """A length as readers see it everywhere (session, speaking time): ``47 min``, ``1 h 05``;
    never under ``1 min``."""
    minutes = max(1, round(seconds / 60))
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d}"


def speaking_label(seconds: float) -> str:
    """How long someone spoke, as readers see it: « 3 s », « 44 s », « 2 min 05 »,
    « 1 h 02 » (a speaking time is often under a minute, and « 1 min » would hide it)."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d}"
    return f"{whole // 3600} h {whole % 3600 // 60:02d}"


MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre")


def date_label(date: object) -> str:
    """A date as readers see it everywhere: ``21 avril 2022`` (anything else as it is given)."""
    if not date:
        return ""
    try:
        day = dt.date.fromisoformat(str(date))
    except ValueError:
        return str(date)
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def utc_now() -> str:
    """The present moment in UTC, to the second, ISO 8601 (every record and event uses it)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (quotes and backslashes escaped) for a file an editor reads."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
