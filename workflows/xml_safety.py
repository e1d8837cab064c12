"""Parsing of untrusted XML: no DTDs, no entities, no network, bounded size."""

from __future__ import annotations

import re

from lxml import etree

from workflows.errors import PathwayInvalidError, Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse_untrusted_xml(
    data: bytes, filename: str, max_bytes: int = DEFAULT_MAX_BYTES
) -> etree._ElementTree:
    """Parse one uploaded BPMN file or raise PathwayInvalidError naming the file and line."""
    root = parse_safe_root(data, filename, max_bytes)
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise PathwayInvalidError(
            [
                Problem(
                    "Not a BPMN 2.0 file (the root must be bpmn:definitions): upload a .bpmn "
                    "file saved by a BPMN modelling tool.",
                    file=filename,
                    line=root.sourceline,
                )
            ]
        )
    return etree.ElementTree(root)


def parse_safe_root(data: bytes, filename: str, max_bytes: int) -> etree._Element:
    """The root of an uploaded XML file (BPMN or DMN), parsed with no DTD, no entities and no
    network, or PathwayInvalidError naming the file and line."""
    if len(data) > max_bytes:
        raise PathwayInvalidError(
            [Problem(f"File is {len(data):,} bytes; the limit is {max_bytes:,}.", file=filename)]
        )
    match = _DOCTYPE.search(data)
    if match:
        line = data.count(b"\n", 0, match.start()) + 1
        raise PathwayInvalidError(
            [Problem("DOCTYPE and ENTITY declarations are not allowed.", file=filename, line=line)]
        )
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as error:
        raise PathwayInvalidError(
            [Problem(f"Not well-formed XML: {error.msg}", file=filename, line=error.lineno)]
        ) from None
    return root
