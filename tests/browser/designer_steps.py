"""Steps for browser tests that build forms in the form designer as a manager does.

    design_form(page, draft_id, "lymphoedema-review", "Lymphoedema review", [
        {"text": "Arm circumference (cm)", "kind": "Number (decimals allowed)",
         "minimum": "10", "maximum": "80", "required": True, "name": "arm_cm"},
        {"text": "Is there swelling?", "kind": "Yes or no", "required": True},
        {"text": "Where?", "kind": "One answer from a list",
         "answers": ["left | Left arm", "right | Right arm"], "show_after": 2, "show_when": "Yes"},
    ])

Each question is filled in its own "Question N" group by the page's labels; "Add a
question" and "Save form to the draft" are form posts, so each step waits for the page
that comes back.
"""

from __future__ import annotations

from typing import Any

KINDS = (
    "Short text (one line)",
    "Long text (several lines)",
    "Whole number",
    "Number (decimals allowed)",
    "Date",
    "Yes or no",
    "One answer from a list",
    "Checkboxes (any answers from a list)",
)


def _expect(locator: Any) -> Any:
    from playwright.sync_api import expect

    return expect(locator)


def question_group(page: Any, number: int) -> Any:
    return page.get_by_role("group", name=f"Question {number}", exact=True)


def fill_question(page: Any, number: int, spec: dict[str, Any]) -> None:
    """Fill question ``number`` from ``spec`` (see the module's docstring)."""
    group = question_group(page, number)
    group.get_by_label("Question text").fill(spec["text"])
    group.get_by_label("Type of answer").select_option(label=spec.get("kind", KINDS[0]))
    if spec.get("hint"):
        group.get_by_label("Hint (optional)").fill(spec["hint"])
    if spec.get("required"):
        group.get_by_label("An answer is required").check()
    for key, label in (("minimum", "Lowest number allowed"), ("maximum", "Highest number allowed")):
        if key in spec:
            group.get_by_label(label).fill(str(spec[key]))
    if "max_length" in spec:
        group.get_by_label("Most characters allowed").fill(str(spec["max_length"]))
    if "dates" in spec:  # "Today or earlier", "Today or later" or "Any date"
        group.get_by_label("Dates allowed").select_option(label=spec["dates"])
    if "answers" in spec:  # "code | term" or a term alone
        group.get_by_label("Answers to choose from").fill("\n".join(spec["answers"]))
    if "show_after" in spec:
        other = question_group(page, spec["show_after"]).get_by_label("Question text")
        group.get_by_label("Ask this question only after an answer to").select_option(
            label=f"Question {spec['show_after']}: {other.input_value()}"
        )
        group.get_by_label("The answer that shows it").fill(spec["show_when"])
    if "name" in spec:
        group.get_by_label("Saved as (optional)").fill(spec["name"])


def design_form(
    page: Any, draft_id: int, file_name: str, title: str, questions: list[dict[str, Any]]
) -> str:
    """Add a form to the draft, fill every question, save it; the saved file's name."""
    page.goto(f"/pathways/{draft_id}/forms/new")
    page.get_by_label("File name").fill(file_name)
    page.get_by_label("Form title").fill(title)
    for number, spec in enumerate(questions, start=1):
        if number > 1:
            page.get_by_role("button", name="Add a question").click()
            _expect(question_group(page, number)).to_be_visible()
        fill_question(page, number, spec)
    page.get_by_role("button", name="Save form to the draft").click()
    saved = file_name if file_name.endswith(".json") else f"{file_name}.schema.json"
    page.get_by_text(f"{saved} is saved in the draft.").wait_for()
    return saved
