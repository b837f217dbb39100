"""Text that every output format can carry.

XML 1.0 (the Atom feed, the SVG chart, Dublin Core) forbids control characters other than tab,
newline and carriage return, and the non-characters U+FFFE and U+FFFF; a title pasted from a
word processor can hold them. :func:`xml_safe` removes them, at the one place each writer goes
through (the site's templates, the chart, the archive's XML).
"""

from __future__ import annotations

import re

NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold."""
    return NOT_IN_XML.sub("", text)
