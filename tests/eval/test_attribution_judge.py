"""Perception-error attribution through an LLM judge: parsing, caching, the reading, calibration.

The judge here is a loopback stand-in that answers by a fixed rule: it compares the objects
the caption lists with the scene inventory the response opens with; different -> perception,
same or no inventory -> reasoning. So its agreement with the hand labels and with the exact toy
attribution is known in advance, and the test checks the numbers.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from seethink.eval.attribution import attribute
from seethink.eval.attribution_judge import (
    VerdictCache,
    VerdictError,
    agreement,
    judge_reading,
    parse_verdict,
)
from seethink.eval.judge import Judge
from seethink.toyworld.judge_calibration import TOY_CALIBRATION, calibrate, toy_calibration_set

SECRET = "sk-attribution-never-written"
OBJ = re.compile(r"an? (red|green|blue|yellow) (square|circle|triangle) in row")
INV = re.compile(r"(red|green|blue|yellow): (\w+(?:, \w+)*)\.")


def rule(prompt: str) -> str:
    """The stand-in judge's verdict for one prompt."""
    description = prompt.split("Description of the image (written by someone who saw it): ", 1)[1].split("\n")[0]
    response = prompt.split('The model\'s response:\n"""\n', 1)[1].split('\n"""', 1)[0]
    if response.startswith("<think> squares: 1 green, 2 yellow."):
        return "I am not sure."  # never parses: this row stays undecided
    if "3-2=2" in response and "could not be used" not in prompt:
        return "label: reasoning"  # malformed once; the retry names the problem and then it parses
    scene = Counter(OBJ.findall(description))
    think = response.split("<think>", 1)[1].split("</think>")[0]
    inv_text = think.split(":", 1)[0]
    if inv_text.strip() in ("red", "green", "blue", "yellow"):
        head = re.match(r"\s*((?:(?:red|green|blue|yellow): \w+(?:, \w+)*\.\s*)+)", think)
        seen = Counter((c, s) for c, body in INV.findall(head.group(1) if head else "") for s in body.split(", "))
        label = "perception" if seen != scene else "reasoning"
    else:
        label = "reasoning"
    return json.dumps({"label": label, "reason": f"by rule: {label}"})


class _Handler:  # what the fake judge saw
    calls: list[dict] = []


@pytest.fixture
def server(openai_server):
    url, _Handler.calls = openai_server(rule)
    yield url


def _kappa(pairs: list[tuple[str, str]]) -> float:
    """Cohen's kappa written out independently of the module."""
    n = len(pairs)
    po = sum(a == b for a, b in pairs) / n
    pa = sum(a == "perception" for a, _ in pairs) / n
    pb = sum(b == "perception" for _, b in pairs) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    return (po - pe) / (1 - pe)


def test_parse_verdict_is_strict():
    assert parse_verdict('{"label": "Perception", "reason": "misread the colour"}') == ("perception",
                                                                                       "misread the colour")
    assert parse_verdict('```json\n{"label": "reasoning", "reason": "bad sum"}\n```') == ("reasoning", "bad sum")
    for bad in ['label: perception', '{"label": "perception"}', '{"label": "both", "reason": "x"}',
                '{"label": "reasoning", "reason": ""}', '{"label": "reasoning", "reason": "x", "extra": 1}',
                '{"label": "reasoning", "reason": "x"} and more', '{"label": "reasoning", "reason": "' + "x" * 301 + '"}']:
        with pytest.raises(VerdictError):
            parse_verdict(bad)


def test_agreement_numbers():
    a = agreement(["perception", "reasoning", "perception", None], ["perception", "perception", "perception", "reasoning"])
    assert a["n"] == 3 and a["undecided"] == 1 and a["accuracy"] == pytest.approx(2 / 3)
    assert a["kappa"] == pytest.approx(0.0)  # the reference uses one label only: p_e = p_o-free chance
    assert agreement(["reasoning"] * 3, ["reasoning"] * 3)["kappa"] is None  # p_e = 1: undefined
    assert agreement([None], ["reasoning"])["accuracy"] is None


def test_hand_labels_match_the_exact_attribution_where_it_decides():
    items, preds = toy_calibration_set()
    assert len(preds) == len(TOY_CALIBRATION) == 30
    assert Counter(p["hand_label"] for p in preds) == {"perception": 14, "reasoning": 16}
    undecided = [p["id"] for p in preds if p["exact_label"] is None]
    assert undecided == ["toy_visual-940343e82c", "toy_visual-c09090e645"]  # the two without an inventory
    a = agreement([p["hand_label"] for p in preds], [p["exact_label"] for p in preds])
    assert a["n"] == 28 and a["accuracy"] == 1.0 and a["kappa"] == 1.0
    from seethink.eval.attribution_judge import default_grade

    grade = default_grade()
    assert not any(grade(p["response"], it) for p, it in zip(preds, items, strict=True))  # all wrong answers


def test_calibration_against_a_rule_judge(server, tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    judge = Judge(server, "rule-judge", api_key_env="JUDGE_KEY", max_tokens=256)
    cache = tmp_path / "verdicts.jsonl"
    res = calibrate(judge, cache, workers=3)
    s = res["summary"]
    rows = {r["id"]: r for r in res["rows"]}
    # the rule flags any misread object; the hand labels only those the answer needs (items 6, 17),
    # and the rule cannot see item 26's misread count (no inventory); item 27 never parses
    ids = [t[0] for t in TOY_CALIBRATION]
    assert rows[ids[27]]["label"] is None and "not one JSON object" in rows[ids[27]]["error"]
    assert rows[ids[1]]["label"] == "reasoning"  # parsed on the retry
    assert {i for i, r in rows.items() if r["label"] and r["label"] != r["hand_label"]} == {ids[6], ids[17], ids[26]}
    assert s["wrong"] == 30 and s["undecided"] == 1 and s["perception"] == 15 and s["reasoning"] == 14
    assert s["perception_share"] == pytest.approx(100 * 15 / 29)
    hand = s["agreement_hand"]
    assert hand["n"] == 29 and hand["accuracy"] == pytest.approx(26 / 29)
    pairs = [(r["label"], r["hand_label"]) for r in res["rows"] if r["label"]]
    assert hand["kappa"] == pytest.approx(_kappa(pairs))
    exact = s["agreement_exact"]
    assert exact["n"] == 28 and exact["accuracy"] == pytest.approx(26 / 28)
    pairs = [(r["label"], r["exact_label"]) for r in res["rows"] if r["label"] and r["exact_label"]]
    assert exact["kappa"] == pytest.approx(_kappa(pairs))
    assert s["agreement_hand_vs_exact"]["accuracy"] == 1.0
    assert len(_Handler.calls) == 30 + 1 + 1  # one retry (item 1), item 27 asked twice
    assert all(c["auth"] == f"Bearer {SECRET}" for c in _Handler.calls)
    assert SECRET not in cache.read_text()
    # resumed from the cache: no call
    again = calibrate(judge, cache)
    assert len(_Handler.calls) == 32 and again["summary"]["new_calls"] == 0
    assert again["summary"]["agreement_hand"] == hand
    # the cache is keyed by the judge model too
    calibrate(Judge(server, "other-judge", max_tokens=256), cache)
    assert len(_Handler.calls) > 32


def test_judge_reading_feeds_attribute(server, tmp_path):
    items, preds = toy_calibration_set()
    judge = Judge(server, "rule-judge", max_tokens=256)
    reading = judge_reading(judge, VerdictCache(tmp_path / "v.jsonl"))
    right = dict(preds[0], response=items[0]["solution"], correct=True)  # a right answer: not judged
    rows = [dict(p) for p in preds[:6]] + [right]
    right["id"] = items[0]["id"]
    result = attribute(rows, items, {"judge": reading}, capability="visual")
    r = result["readings"]["judge"]
    # items 0-5: hand P R P R P R; the rule agrees on all six
    assert r["wrong_n"] == 6 and r["wrong_flagged"] == 3 and r["wrong_share"] == pytest.approx(50.0)
    assert r["right_n"] == 1 and r["undecided_right"] == 1
    assert len(_Handler.calls) == 6 + 1  # item 1 needs its retry; the right answer costs nothing


def test_predictions_file_command(server, tmp_path, cli, monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    items, preds = toy_calibration_set()
    items_path = tmp_path / "items.jsonl"
    items_path.write_text("".join(json.dumps(it) + "\n" for it in items[:4]))
    pred_path = tmp_path / "predictions.jsonl"
    rows = [{"id": p["id"], "prediction": p["response"]} for p in preds[:3]]  # no 'correct': graded here
    rows.append({"id": items[3]["id"], "response": items[3]["solution"], "correct": 1})
    pred_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "attribution.json"
    code, stdout, err = cli(["judge", "attribution", str(pred_path), "--items", str(items_path), "--out", str(out),
                             "--base-url", server, "--model", "rule-judge", "--api-key-env", "JUDGE_KEY"])
    assert code == 0, err
    assert "3 wrong of 4 answers: perception 2 (66.7%), reasoning 1 (33.3%)" in stdout
    data = json.loads(out.read_text())
    assert [r["label"] for r in data["rows"]] == ["perception", "reasoning", "perception"]
    assert all(r["reason"].startswith("by rule") for r in data["rows"])
    assert SECRET not in out.read_text() + stdout + err
    assert Path(data["summary"]["cache"]).is_file()
    # the built-in calibration set from the command line
    code, stdout, err = cli(["judge", "attribution", "toy", "--out", str(tmp_path / "cal.json"),
                             "--base-url", server, "--model", "rule-judge"])
    assert code == 0, err
    assert "agreement with hand labels: accuracy 0.897" in stdout and "on 29 decided pairs" in stdout
    # a prediction whose id is not an item
    pred_path.write_text(json.dumps({"id": "nope", "response": "x"}) + "\n")
    code, _, err = cli(["judge", "attribution", str(pred_path), "--items", str(items_path), "--out", str(out),
                        "--base-url", server, "--model", "rule-judge"])
    assert code == 2 and "row 1, field 'id'" in err
    code, _, err = cli(["judge", "attribution", str(pred_path), "--out", str(out), "--base-url", server,
                        "--model", "rule-judge"])
    assert code == 2 and "--items" in err
