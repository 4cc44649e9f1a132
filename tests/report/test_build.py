"""The markdown report: sections that appear only when the summary has what they show."""

from seethink.report.build import render_markdown


def _model(acc: float, inventory: float | None) -> dict:
    cap = {"n": 10, "accuracy": acc, "format": 100.0, "mean_response_tokens": 30.0, "mean_think_tokens": 24.0,
           "majority_baseline": 36.5}
    caps = {"perception": dict(cap), "text": dict(cap)}
    if inventory is not None:
        caps["perception"]["inventory_accuracy"] = inventory
    return {**cap, "by_capability": caps}


def test_scene_reading_section_lists_image_capabilities_only():
    summary = {"meta": {"recipe": "t", "stages": ["perception"]}, "base": _model(60.0, 99.5),
               "staged": _model(55.0, 81.25)}
    md = render_markdown(summary, {})
    section = md.split("## Is the scene read right?")[1].split("\n\n")[1]
    assert section.splitlines() == ["| model | perception |", "|---|---|", "| base | 99.5 |", "| staged | 81.2 |"]
    plain = {"meta": {"recipe": "t"}, "base": _model(60.0, None)}
    assert "Is the scene read right?" not in render_markdown(plain, {})
