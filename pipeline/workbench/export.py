"""The synthesis and the transcript as word-processor files editors are asked for: ``.docx``
(python-docx) and ``.odt`` (odfpy), with the speakers, the moments and French typography."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .. import transcript as transcript_io
from ..subtitles import paragraphs, short_clock
from ..synthesis import french_typography, plain_markdown, read_synthesis

STAMP = re.compile(r"^\s*\[([\d:]+)\]\(#t=[^)]*\)\s*")


@dataclass(frozen=True)
class Block:
    """One block of a document: a heading (level 1-3), a paragraph, an item or a quote."""

    kind: str
    text: str
    level: int = 0
    lead: str = ""
    """What goes in bold before the text: a moment, a speaker."""


def synthesis_blocks(markdown: str, title: str) -> Iterator[Block]:
    """A synthesis' Markdown as blocks (its front matter left out)."""
    body = read_synthesis(markdown).body
    yield Block("heading", french_typography(title), 1)
    for raw in body.splitlines():
        line = raw.strip()
        if not line or line.startswith("# "):
            continue
        heading = re.match(r"^(#{2,6})\s+(.*)$", line)
        if heading:
            yield Block("heading", french_typography(plain_markdown(heading.group(2))), min(len(heading.group(1)), 3))
            continue
        kind = "item" if re.match(r"^[-*+]\s", line) else "quote" if line.startswith(">") else "paragraph"
        content = re.sub(r"^([-*+]\s+|>\s*)", "", line)
        stamp = STAMP.match(content)
        lead = f"[{stamp.group(1)}] " if stamp else ""
        yield Block(kind, french_typography(plain_markdown(content[stamp.end() :] if stamp else content)), lead=lead)


def transcript_blocks(transcript: transcript_io.Transcript, title: str) -> Iterator[Block]:
    """A transcript as blocks: one per paragraph, its moment and speaker in bold."""
    yield Block("heading", french_typography(title), 1)
    yield Block("paragraph", "Transcription automatique, relue par l'équipe éditoriale si la synthèse est publiée.")
    for paragraph in paragraphs(transcript):
        speaker = f"{paragraph.speaker} : " if paragraph.speaker and paragraph.turn else ""
        yield Block("paragraph", french_typography(paragraph.text), lead=french_typography(f"[{short_clock(paragraph.start)}] {speaker}"))


def docx(blocks: Iterator[Block]) -> bytes:
    """The blocks as a Word document."""
    from docx import Document

    document = Document()
    for block in blocks:
        if block.kind == "heading":
            document.add_heading(block.text, level=block.level)
            continue
        style = {"item": "List Bullet", "quote": "Quote"}.get(block.kind)
        paragraph = document.add_paragraph(style=style)
        if block.lead:
            paragraph.add_run(block.lead).bold = True
        paragraph.add_run(block.text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def odt(blocks: Iterator[Block]) -> bytes:
    """The blocks as an OpenDocument text."""
    from odf.opendocument import OpenDocumentText
    from odf.style import Style, TextProperties
    from odf.text import H, P, Span

    document = OpenDocumentText()
    bold = Style(name="Gras", family="text")
    bold.addElement(TextProperties(fontweight="bold"))
    document.automaticstyles.addElement(bold)
    for block in blocks:
        if block.kind == "heading":
            document.text.addElement(H(outlinelevel=block.level, text=block.text))
            continue
        paragraph = P(text="• " if block.kind == "item" else "")
        if block.lead:
            paragraph.addElement(Span(stylename=bold, text=block.lead))
        paragraph.addText(("« " + block.text + " »") if block.kind == "quote" and not block.text.startswith("«") else block.text)
        document.text.addElement(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


FORMATS = {"docx": docx, "odt": odt}
MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "odt": "application/vnd.oasis.opendocument.text",
}
