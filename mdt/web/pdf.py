"""PDF documents for people outside the system (the patient's care plan, letters).

fpdf2's built-in Helvetica covers Latin-1 only; text is mapped to it so that names and
punctuation typed in the forms never break a document.
"""

from __future__ import annotations

from collections.abc import Iterable

from fpdf import FPDF

_REPLACEMENTS = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
        "…": "...",
        "•": "-",
        "\u00a0": " ",
    }
)


def _latin1(text: str) -> str:
    return text.translate(_REPLACEMENTS).encode("latin-1", "replace").decode("latin-1")


class Document:
    """A plain A4 document: a title, then headed sections of paragraphs or bullet lists."""

    def __init__(self, title: str, subtitle: str = ""):
        self.pdf = FPDF(format="A4")
        self.pdf.set_margins(20, 20, 20)
        self.pdf.set_auto_page_break(True, margin=20)
        self.pdf.set_title(_latin1(title))
        self.pdf.add_page()
        self.pdf.set_font("Helvetica", "B", 20)
        self.pdf.multi_cell(0, 10, _latin1(title), new_x="LMARGIN", new_y="NEXT")
        if subtitle:
            self.pdf.set_font("Helvetica", "", 11)
            self.pdf.multi_cell(0, 6, _latin1(subtitle), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(4)

    def section(self, heading: str, body: str | Iterable[str] | None) -> None:
        if not body:
            return
        self.pdf.set_font("Helvetica", "B", 14)
        self.pdf.multi_cell(0, 8, _latin1(heading), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font("Helvetica", "", 12)
        lines = [body] if isinstance(body, str) else [f"- {line}" for line in body]
        for line in lines:
            self.pdf.multi_cell(0, 6, _latin1(line), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(3)

    def output(self) -> bytes:
        return bytes(self.pdf.output())
