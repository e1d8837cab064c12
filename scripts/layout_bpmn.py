"""Lay out BPMN files written by hand: compute their diagram (BPMN DI) from the process.

    .venv/bin/python scripts/layout_bpmn.py bpmn/progression.bpmn [more.bpmn ...]

For authors who write or change a pathway's XML in a text editor. The process (tasks, flows,
lanes) is the source; this replaces each file's diagram section with a left-to-right layered
layout: every flow node in a column after the nodes that lead to it, each lane a band, parallel
branches on their own rows, loops routed underneath, boundary events on their host's lower
edge, expanded subprocesses drawn with their contents inside. Diagrams edited in the pathway
editor keep the editor's layout; run this only on files whose layout you do not mind losing.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DI = {
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
NS = {"bpmn": BPMN, **DI}
SIZES = {"event": (36, 36), "gateway": (50, 50), "task": (110, 80)}
COLUMN_GAP, ROW_GAP, PAD, LABEL_BAND, LANE_LABEL = 50, 36, 40, 30, 30
FLOW_NODES = {
    "startEvent": "event",
    "endEvent": "event",
    "intermediateCatchEvent": "event",
    "intermediateThrowEvent": "event",
    "boundaryEvent": "event",
    "exclusiveGateway": "gateway",
    "parallelGateway": "gateway",
    "inclusiveGateway": "gateway",
    "eventBasedGateway": "gateway",
    "userTask": "task",
    "manualTask": "task",
    "scriptTask": "task",
    "businessRuleTask": "task",
    "task": "task",
    "callActivity": "task",
    "subProcess": "task",
}


def local(element: etree._Element) -> str:
    return etree.QName(element).localname


@dataclass
class Box:
    element: etree._Element
    kind: str
    width: int
    height: int
    x: int = 0
    y: int = 0
    layer: int = 0
    row: int = 0
    lane: str = ""
    inner: Layout | None = None  # an expanded subprocess's own layout

    @property
    def id(self) -> str:
        return str(self.element.get("id"))


@dataclass
class Layout:
    boxes: dict[str, Box] = field(default_factory=dict)
    boundary: dict[str, Box] = field(default_factory=dict)  # boundary events, by id
    flows: list[etree._Element] = field(default_factory=list)
    back_edges: set[str] = field(default_factory=set)
    lanes: list[tuple[str, str, int, int]] = field(default_factory=list)  # id, name, y, height
    width: int = 0
    height: int = 0


def _children(container: etree._Element) -> list[etree._Element]:
    return [c for c in container if isinstance(c.tag, str) and local(c) in FLOW_NODES]


def _box(element: etree._Element) -> Box:
    kind = FLOW_NODES[local(element)]
    if local(element) == "subProcess" and _children(element):
        inner = layout_container(element, {})
        return Box(
            element, "subprocess", inner.width + 2 * PAD, inner.height + 2 * PAD, inner=inner
        )
    width, height = SIZES[kind]
    return Box(element, kind, width, height)


def _order(layout: Layout, edges: dict[str, list[tuple[str, str]]]) -> list[str]:
    """Depth-first from the start events; marks back edges (loops) on the way."""
    seen, on_stack, order = set(), set(), []
    starts = [b.id for b in layout.boxes.values() if local(b.element) == "startEvent"]
    rest = [i for i in layout.boxes if i not in starts]

    def visit(node: str) -> None:
        seen.add(node)
        on_stack.add(node)
        order.append(node)
        for flow_id, target in edges.get(node, []):
            if target in on_stack:
                layout.back_edges.add(flow_id)
            elif target not in seen:
                visit(target)
        on_stack.discard(node)

    for node in starts + rest:
        if node not in seen:
            visit(node)
    return order


def layout_container(
    container: etree._Element, lane_of: dict[str, str], banded: bool = False
) -> Layout:
    layout = Layout()
    for element in _children(container):
        box = _box(element)
        box.lane = lane_of.get(box.id, "")
        if local(element) == "boundaryEvent":
            layout.boundary[box.id] = box
        else:
            layout.boxes[box.id] = box
    layout.flows = [c for c in container if isinstance(c.tag, str) and local(c) == "sequenceFlow"]
    host_of = {b.id: str(b.element.get("attachedToRef")) for b in layout.boundary.values()}
    edges: dict[str, list[tuple[str, str]]] = {}
    for flow in layout.flows:
        source = host_of.get(flow.get("sourceRef"), flow.get("sourceRef"))
        edges.setdefault(str(source), []).append((str(flow.get("id")), str(flow.get("targetRef"))))
    order = _order(layout, edges)
    _layers(layout, edges, order)
    _rows(layout, edges, order, host_of)
    _place(layout, container, banded)
    return layout


def _layers(layout: Layout, edges: dict[str, list[tuple[str, str]]], order: list[str]) -> None:
    """Each node one column after the nearest thing that leads to it (breadth first from the
    start), so a loop's entry sits where it is first reached; any flow that then points
    backwards is drawn as a loop underneath."""
    layer: dict[str, int] = {}
    queue = [n for n in order if local(layout.boxes[n].element) == "startEvent"] or order[:1]
    for node in queue:
        layer[node] = 0
    while queue:
        node = queue.pop(0)
        for flow_id, target in edges.get(node, []):
            if flow_id in layout.back_edges or target not in layout.boxes or target in layer:
                continue
            layer[target] = layer[node] + 1
            queue.append(target)
    for node in order:  # anything not reachable from a start (should not happen)
        layout.boxes[node].layer = layer.get(node, 0)
    for node in order:
        for flow_id, target in edges.get(node, []):
            if target in layout.boxes and layout.boxes[target].layer <= layout.boxes[node].layer:
                layout.back_edges.add(flow_id)


def _rows(
    layout: Layout,
    edges: dict[str, list[tuple[str, str]]],
    order: list[str],
    host_of: dict[str, str],
) -> None:
    """Depth first from the start: a node's first successor in its lane continues its row;
    every other branch (and what follows a boundary event) starts a new row below all the
    rows used so far. Each branch owns its rows, so nothing overlaps and each decision reads
    as a small block of rows."""
    flows = {str(f.get("id")): f for f in layout.flows}
    used: dict[str, int] = {}  # the highest row used, per lane
    taken: set[tuple[str, int, float]] = set()
    placed: set[str] = set()

    def new_row(lane: str) -> int:
        used[lane] = used.get(lane, -1) + 1
        return used[lane]

    def successors(node: str) -> list[str]:
        normal, boundary = [], []
        for flow_id, target in edges.get(node, []):
            if flow_id in layout.back_edges or target not in layout.boxes:
                continue
            from_boundary = flows[flow_id].get("sourceRef") in host_of
            (boundary if from_boundary else normal).append(target)
        return normal + boundary

    def visit(node: str, row: int) -> None:
        box = layout.boxes[node]
        if (box.lane, box.layer, row) in taken:
            row = new_row(box.lane)
        box.row = row
        used[box.lane] = max(used.get(box.lane, -1), row)
        taken.add((box.lane, box.layer, row))
        placed.add(node)
        continued = False
        for target in successors(node):
            if target in placed:
                continue
            same_lane = layout.boxes[target].lane == box.lane
            if not continued and same_lane:
                continued = True
                visit(target, row)
            else:
                visit(target, new_row(layout.boxes[target].lane))

    for node in order:  # the start events come first in the depth-first order
        if node not in placed:
            visit(node, new_row(layout.boxes[node].lane))


def _place(layout: Layout, container: etree._Element, banded: bool) -> None:
    boxes = list(layout.boxes.values())
    layers = max((b.layer for b in boxes), default=0) + 1
    widths = [max((b.width for b in boxes if b.layer == i), default=0) for i in range(layers)]
    lanes = _lane_list(container) or [("", "")]
    x_left = LANE_LABEL * ((1 if banded else 0) + (1 if lanes[0][0] else 0))
    column_x, x = [], x_left + PAD
    for width in widths:
        column_x.append(x)
        x += width + COLUMN_GAP
    layout.width = x - COLUMN_GAP + PAD
    y = 0
    for lane_id, lane_name in lanes:
        members = [b for b in boxes if b.lane == lane_id]
        rows = int(max((b.row for b in members), default=0)) + 1
        heights = [max((b.height for b in members if b.row == r), default=36) for r in range(rows)]
        row_y, cursor = [], y + PAD
        for height in heights:
            row_y.append(cursor)
            cursor += height + ROW_GAP + (LABEL_BAND if height <= 50 else 0)
        for box in members:
            box.x = column_x[box.layer] + (widths[box.layer] - box.width) // 2
            # Small shapes line up along the top band of their row, beside a big subprocess.
            band = min(heights[int(box.row)], SIZES["task"][1])
            box.y = row_y[int(box.row)] + max(band - box.height, 0) // 2
        lane_height = max(cursor - ROW_GAP + PAD - y, 120)
        layout.lanes.append((lane_id, lane_name, y, lane_height))
        y += lane_height
    layout.height = y
    for boundary in layout.boundary.values():
        host = layout.boxes[str(boundary.element.get("attachedToRef"))]
        siblings = [
            b for b in layout.boundary.values() if b.element.get("attachedToRef") == host.id
        ]
        index = siblings.index(boundary)
        spacing = min(70, max(40, (host.width - 20) // max(len(siblings), 1)))
        boundary.x = host.x + host.width - 18 - spacing * (index + 1) + spacing // 2
        boundary.y = host.y + host.height - 18


def _lane_list(container: etree._Element) -> list[tuple[str, str]]:
    return [
        (str(lane.get("id")), str(lane.get("name") or ""))
        for lane in container.xpath("./bpmn:laneSet/bpmn:lane", namespaces=NS)
    ]


# -- writing the diagram ------------------------------------------------------------------


def _shape(
    plane: etree._Element, element_id: str, x: int, y: int, w: int, h: int, **attrs: str
) -> etree._Element:
    shape = etree.SubElement(
        plane,
        f"{{{DI['bpmndi']}}}BPMNShape",
        id=f"{element_id}_di",
        bpmnElement=element_id,
        **attrs,
    )
    etree.SubElement(
        shape, f"{{{DI['dc']}}}Bounds", x=str(x), y=str(y), width=str(w), height=str(h)
    )
    return shape


def _label(shape: etree._Element, x: int, y: int, w: int) -> None:
    label = etree.SubElement(shape, f"{{{DI['bpmndi']}}}BPMNLabel")
    etree.SubElement(label, f"{{{DI['dc']}}}Bounds", x=str(x), y=str(y), width=str(w), height="27")


def _draw(plane: etree._Element, layout: Layout, dx: int, dy: int) -> None:
    for box in list(layout.boxes.values()) + list(layout.boundary.values()):
        x, y = box.x + dx, box.y + dy
        attrs = {"isExpanded": "true"} if box.inner is not None else {}
        if local(box.element) == "exclusiveGateway":
            attrs["isMarkerVisible"] = "true"
        shape = _shape(plane, box.id, x, y, box.width, box.height, **attrs)
        if box.kind in ("event", "gateway") and box.element.get("name"):
            _label(shape, x + box.width // 2 - 50, y + box.height + 6, 100)
        if box.inner is not None:
            _draw(plane, box.inner, x + PAD, y + PAD)
    positions = {b.id: b for b in list(layout.boxes.values()) + list(layout.boundary.values())}
    row_bottom: dict[tuple[str, int], int] = {}
    for b in layout.boxes.values():
        key = (b.lane, int(b.row))
        row_bottom[key] = max(row_bottom.get(key, 0), b.y + b.height)
    for flow in layout.flows:
        source, target = (
            positions[str(flow.get("sourceRef"))],
            positions[str(flow.get("targetRef"))],
        )
        edge = etree.SubElement(
            plane,
            f"{{{DI['bpmndi']}}}BPMNEdge",
            id=f"{flow.get('id')}_di",
            bpmnElement=str(flow.get("id")),
        )
        back = flow.get("id") in layout.back_edges
        low = 0
        if back:  # under both ends' rows, and under anything on the rows between them
            rows = range(int(min(source.row, target.row)), int(max(source.row, target.row)) + 1)
            low = max(row_bottom.get((source.lane, r), 0) for r in rows) + dy + 14
        for px, py in _route(source, target, back, dx, dy, low):
            etree.SubElement(edge, f"{{{DI['di']}}}waypoint", x=str(px), y=str(py))


def _route(
    source: Box, target: Box, back: bool, dx: int, dy: int, low: int
) -> list[tuple[int, int]]:
    sx, sy = source.x + dx, source.y + dy
    tx, ty = target.x + dx, target.y + dy
    if source.element.get("attachedToRef"):  # boundary event: leave downwards
        start = (sx + source.width // 2, sy + source.height)
        end = (tx, ty + target.height // 2)
        return (
            [start, (start[0], end[1]), end]
            if start[0] < end[0]
            else [start, (start[0], end[1] + 0), end]
        )
    if back:  # loop: just under the rows it spans, back to the target's lower edge
        return [
            (sx + source.width // 2, sy + source.height),
            (sx + source.width // 2, low),
            (tx + target.width // 2, low),
            (tx + target.width // 2, ty + target.height),
        ]
    start = (sx + source.width, sy + source.height // 2)
    end = (tx, ty + target.height // 2)
    if ty < start[1] < ty + target.height:  # meets a tall target (a subprocess) head on
        end = (tx, start[1])
    elif sy < end[1] < sy + source.height:  # leaves a tall source level with its target
        start = (sx + source.width, end[1])
    if start[1] == end[1]:
        return [start, end]
    if local(source.element).endswith("Gateway"):  # leave a gateway by its lower/upper corner
        corner = (sx + source.width // 2, sy + (source.height if end[1] > start[1] else 0))
        return [corner, (corner[0], end[1]), end]
    middle = start[0] + COLUMN_GAP // 2
    return [start, (middle, start[1]), (middle, end[1]), end]


def lay_out(path: Path) -> None:
    tree = etree.parse(
        str(path), etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    )
    root = tree.getroot()
    for old in root.xpath("./bpmndi:BPMNDiagram", namespaces=NS):
        root.remove(old)
    participants = {
        p.get("processRef"): p
        for p in root.xpath("./bpmn:collaboration/bpmn:participant", namespaces=NS)
    }
    collaboration = root.find(f"{{{BPMN}}}collaboration")
    diagram = etree.SubElement(root, f"{{{DI['bpmndi']}}}BPMNDiagram", id=f"Diagram_{path.stem}")
    plane_for = collaboration.get("id") if collaboration is not None else None
    offset_y = 0
    plane = None
    for process in root.xpath("./bpmn:process", namespaces=NS):
        lane_of = {
            (ref.text or "").strip(): str(lane.get("id"))
            for lane in process.xpath("./bpmn:laneSet/bpmn:lane", namespaces=NS)
            for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS)
        }
        participant = participants.get(process.get("id"))
        layout = layout_container(process, lane_of, banded=participant is not None)
        if plane is None:
            plane = etree.SubElement(
                diagram,
                f"{{{DI['bpmndi']}}}BPMNPlane",
                id=f"Plane_{path.stem}",
                bpmnElement=plane_for or str(process.get("id")),
            )
        x0, y0 = 0, offset_y
        if participant is not None:
            _shape(
                plane,
                str(participant.get("id")),
                x0,
                y0,
                layout.width,
                layout.height,
                isHorizontal="true",
            )
            for lane_id, _name, lane_y, lane_height in layout.lanes:
                if lane_id:
                    _shape(
                        plane,
                        lane_id,
                        x0 + LANE_LABEL,
                        y0 + lane_y,
                        layout.width - LANE_LABEL,
                        lane_height,
                        isHorizontal="true",
                    )
        _draw(plane, layout, x0, y0)
        offset_y += layout.height + 60
    for prefix, uri in DI.items():
        etree.register_namespace(prefix, uri)
    etree.indent(tree, space="  ")
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        lay_out(Path(name))
        print(f"laid out {name}")
