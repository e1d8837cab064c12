"""PDF documents for people outside the system: the patient's care plan, the GP letter, the
MDT list and its minutes.

Each is an HTML template in ``templates/pdf/`` rendered by WeasyPrint as tagged PDF/UA-1 with
its fonts embedded, so a name prints exactly as it was typed (Łucja, Zoë, Nguyễn, 王) and a
screen reader can follow the document. Nothing is fetched while rendering: the styles are in
the template and any other address is refused.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import Response, render_template


def _fetch_nothing(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise ValueError(f"documents load nothing from elsewhere ({url[:60]})")


def render_pdf(template: str, **context: Any) -> bytes:
    # Imported here: WeasyPrint needs the system's Pango, and a machine without it should
    # still run everything but the PDFs (README, "System packages").
    from weasyprint import HTML

    html = render_template(f"pdf/{template}", **context)
    return bytes(HTML(string=html, url_fetcher=_fetch_nothing).write_pdf(pdf_variant="pdf/ua-1"))


def pdf_response(template: str, filename: str, **context: Any) -> Response:
    return Response(
        render_pdf(template, **context),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
