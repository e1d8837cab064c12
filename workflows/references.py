"""References between BPMN elements written as prefixed names.

BPMN 2.0 types ``messageRef``, ``signalRef``, ``calledElement`` and the like as XML
qualified names, so tools that write the model under a prefix (``semantic:``, ``tns:``,
``bpmn2:``) write ``messageRef="semantic:Message_1"`` for the message whose id is
``Message_1``. SpiffWorkflow looks the reference up as it is written and finds nothing;
the checks here and the engine both see the id once the prefix is resolved.
"""

from __future__ import annotations

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
QNAME_REFERENCES = (
    "messageRef",
    "signalRef",
    "errorRef",
    "escalationRef",
    "calledElement",
    "processRef",
)


def resolved_ref(element: etree._Element, value: str | None) -> str | None:
    """The id a qualified-name reference on ``element`` means: ``p:id`` is ``id`` when the
    prefix ``p`` stands for this file's target namespace or the BPMN model namespace;
    anything else (an unknown prefix, another namespace) is returned as written."""
    if not value or ":" not in value:
        return value
    prefix, _, ident = value.partition(":")
    namespace = element.nsmap.get(prefix)
    root = element.getroottree().getroot()
    if namespace is not None and namespace in (root.get("targetNamespace"), BPMN_NS):
        return ident
    return value


def resolve_references(tree: etree._ElementTree) -> None:
    """Rewrite every prefixed reference that resolves to an id of this file, in place,
    so the engine's parser finds what it refers to."""
    for element in tree.getroot().iter(etree.Element):
        for attribute in QNAME_REFERENCES:
            value = element.get(attribute)
            resolved = resolved_ref(element, value)
            if resolved is not None and resolved != value:
                element.set(attribute, resolved)
