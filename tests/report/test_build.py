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


def test_sampled_scores_get_an_overall_column_and_their_own_change_table():
    def sampled(acc: float, samp: float) -> dict:
        m = _model(acc, None)
        m["sampled_accuracy"] = samp
        for c in m["by_capability"].values():
            c["sampled_accuracy"] = samp
        return m

    summary = {"meta": {"recipe": "t", "samples": 4}, "base": sampled(60.0, 50.0), "staged": sampled(55.0, 52.5)}
    md = render_markdown(summary, {})
    table = md.split("## Sampled accuracy")[1].split("\n\n")[1].splitlines()
    assert table[0] == "| model | perception | text | overall |" and table[3] == "| staged | 52.5 | 52.5 | 52.5 |"
    greedy = md.split("## What RL changed (points vs base)")[1].split("\n\n")[1].splitlines()
    assert greedy[2] == "| staged | -5.0 | -5.0 | -5.0 |"
    samp = md.split("## What RL changed (points vs base, sampled)")[1].split("\n\n")[1].splitlines()
    assert samp[2] == "| staged | +2.5 | +2.5 | +2.5 |"
    plain = {"meta": {"recipe": "t"}, "base": _model(60.0, None), "staged": _model(55.0, None)}
    assert "sampled)" not in render_markdown(plain, {})
