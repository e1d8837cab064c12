"""Render every diagram in bpmn/ to docs/diagrams/*.svg with bpmn-js in headless Chromium.

The pictures in docs/pathway.md are drawn from the BPMN itself: run `make diagrams` after
changing a diagram. Needs Debian's chromium and the npm packages (make install-dev).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
VIEWER = ROOT / "node_modules" / "bpmn-js" / "dist" / "bpmn-viewer.production.min.js"
CSS = ROOT / "node_modules" / "bpmn-js" / "dist" / "assets" / "bpmn-js.css"
CHROMIUM = os.environ.get("MDT_CHROMIUM", "/usr/bin/chromium")


def render(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        page = browser.new_page()
        page.set_content('<div id="canvas" style="width:2000px;height:1200px"></div>')
        page.add_style_tag(path=str(CSS))
        page.add_script_tag(path=str(VIEWER))
        for bpmn in sorted((ROOT / "bpmn").glob("*.bpmn")):
            svg = page.evaluate(
                """async (xml) => {
                    const viewer = new BpmnJS({ container: '#canvas' });
                    const { warnings } = await viewer.importXML(xml);
                    if (warnings.length) { throw new Error(warnings.map(w => w.message).join('; ')); }
                    const { svg } = await viewer.saveSVG();
                    viewer.destroy();
                    return svg;
                }""",
                bpmn.read_text(encoding="utf-8"),
            )
            target = out_dir / f"{bpmn.stem}.svg"
            target.write_text(svg, encoding="utf-8")
            written.append(target)
        browser.close()
    return written


if __name__ == "__main__":
    for path in render(ROOT / "docs" / "diagrams"):
        print(f"wrote {path.relative_to(ROOT)}")
    sys.exit(0)
