"""`seethink data mcq`: captions -> LLM-written multiple-choice items, against a loopback server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from seethink.data.mcq import ReplyError, generate_mcq, parse_reply, shuffled
from seethink.errors import UserError
from seethink.utils import read_jsonl

SECRET = "sk-mcq-never-written"

CAPTIONS = {
    "img_a": "A red square sits on a white table next to two blue cups.",
    "img_b": "Three yellow ducks swim in a green pond under a grey sky.",
    "img_c": "A black cat sleeps on a striped orange blanket.",
    "img_d": "A wooden boat with a white sail is tied to a dock.",
}


def _q(question: str, options: list[str], answer: str, evidence: str) -> dict:
    return {"question": question, "options": options, "answer": answer, "evidence": evidence}


def fake_llm(prompt: str, state: dict) -> str:
    """A stand-in LLM: fixed replies by caption; some bad on purpose."""
    caption = prompt.split('"""')[1].strip()
    retry = "could not be used" in prompt
    if caption == CAPTIONS["img_a"]:  # one good question, one that names the caption
        return json.dumps({"questions": [
            _q("What colour is the square?", ["red", "blue", "green", "yellow"], "A", "a red square"),
            _q("According to the caption, what is on the table?", ["a cup", "a square", "a cat", "a boat"], "B",
               "a red square sits on a white table"),
        ]})
    if caption == CAPTIONS["img_b"]:  # prose first, JSON on the retry (in a code fence)
        if not retry:
            return "Sure! Here are some great questions about the ducks."
        return "```json\n" + json.dumps({"questions": [
            _q("How many ducks are in the water?", ["1", "2", "3", "4"], "(C)", "three yellow ducks"),
            _q("What colour is the pond?", ["green", "blue", "brown", "black"], "green", "a green pond"),
        ]}) + "\n```"
    if caption == CAPTIONS["img_c"]:  # never usable: three options, evidence not in the caption
        if state.get("fail_c"):
            raise RuntimeError("server error")
        return json.dumps({"questions": [
            _q("What animal is on the blanket?", ["cat", "dog", "rabbit"], "A", "a black cat"),
            _q("What colour is the cat?", ["black", "white", "orange", "grey"], "A", "a dark cat"),
        ]})
    return json.dumps({"questions": [
        _q("What is the sail made of?", ["white cloth", "wood", "metal", "paper"], "A", "with a white sail"),
        _q("What is the boat tied to?", ["a dock", "a tree", "a car", "a buoy"], "A", "tied to a dock"),
    ]})


class _Handler:  # what the fake endpoint saw, and its switches
    calls: list[dict] = []
    state: dict = {}


@pytest.fixture
def server(openai_server):
    _Handler.state.clear()
    url, _Handler.calls = openai_server(lambda prompt: fake_llm(prompt, _Handler.state))
    yield url


def _captions(tmp_path: Path, names: list[str]) -> Path:
    rows = []
    for k, name in enumerate(names):
        Image.new("RGB", (16, 16), (40 * k, 10, 10)).save(tmp_path / f"{name}.png")
        rows.append({"example_id": name, "split": "train", "image_file": f"{name}.png",
                     "description": CAPTIONS[name]})
    src = tmp_path / "docci_descriptions.jsonlines"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return src


def test_parse_reply_checks_every_question():
    cap = "A red square sits on a white table next to two blue cups."
    good = _q("What colour is the square?", ["A. red", "B. blue", "C. green", "D. yellow"], "red", "A RED  square")
    qs, bad = parse_reply(json.dumps([good, good]), cap, 3)
    assert qs == [{"question": "What colour is the square?", "options": ["red", "blue", "green", "yellow"],
                   "answer": "A", "evidence": "A RED  square"}]
    assert bad == {"repeated question": 1}
    for broken, reason in [
        ({**good, "options": ["red", "red", "blue", "green"]}, "repeated options"),
        ({**good, "answer": "E"}, "answer is not a letter A-D or an option's text"),
        ({**good, "evidence": "a purple square"}, "evidence is not a quote from the caption"),
        ({**good, "question": "What does the description say?"}, "question mentions the caption/description"),
        ({k: v for k, v in good.items() if k != "evidence"}, "no evidence quote"),
    ]:
        with pytest.raises(ReplyError, match="no usable question") as exc:
            parse_reply(json.dumps({"questions": [broken]}), cap, 3)
        assert reason in str(exc.value)
    with pytest.raises(ReplyError, match="no JSON"):
        parse_reply("I cannot help with that.", cap, 3)
    # an option text that starts like a letter is matched as text first
    qs, _ = parse_reply(json.dumps([_q("Which item is on the table?", ["A cup", "A square", "A cat", "A boat"],
                                       "A square", "a red square")]), cap, 1)
    assert qs[0]["answer"] == "B"


def test_shuffle_keeps_the_right_option_and_is_fixed_by_id():
    q = {"question": "q", "options": ["w", "x", "y", "z"], "answer": "C", "evidence": "e"}
    letters = set()
    for k in range(40):
        s = shuffled(q, f"cap-{k}-q0")
        assert s["options"][ord(s["answer"]) - 65] == "y" and sorted(s["options"]) == ["w", "x", "y", "z"]
        assert shuffled(q, f"cap-{k}-q0") == s
        letters.add(s["answer"])
    assert letters == {"A", "B", "C", "D"}


def test_mcq_items_retries_drops_and_resumes_without_calls(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_LLM_KEY", SECRET)
    src = _captions(tmp_path, ["img_a", "img_b", "img_c"])
    out = tmp_path / "out" / "mcq.jsonl"
    kw = dict(base_url=server, model="stand-in", api_key_env="MY_LLM_KEY", per_caption=2, max_attempts=2, workers=2)
    stats = generate_mcq(src, out, **kw)
    # a: 1 call; b: prose then JSON, 2 calls; c: 2 unusable replies, dropped
    assert stats["calls"] == 5 and len(_Handler.calls) == 5
    assert stats["asked"] == 3 and stats["reused"] == 0 and stats["dropped_captions"] == 1
    assert stats["questions"] == 3
    assert stats["rejected"]["question mentions the caption/description"] == 1
    assert stats["rejected"]["unusable reply"] == 3
    assert all(c["auth"] == f"Bearer {SECRET}" for c in _Handler.calls)
    assert all(c["body"]["temperature"] == 0 and c["body"]["max_tokens"] == 1024 for c in _Handler.calls)
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["img_a-q0", "img_b-q0", "img_b-q1"]
    for r in rows:
        assert r["capability"] == "perception" and r["task"] == "caption_mcq" and len(r["options"]) == 4
        assert r["answer"] in "ABCD" and (out.parent / r["images"][0]).is_file()
        assert r["caption"] in CAPTIONS.values()
    right = {r["id"]: r["options"][ord(r["answer"]) - 65] for r in rows}
    assert right == {"img_a-q0": "red", "img_b-q0": "3", "img_b-q1": "green"}
    cache = out.with_name("mcq.jsonl.mcq_cache.jsonl")
    assert SECRET not in cache.read_text() + out.read_text()
    before = out.read_text()

    # rerun: every caption (the dropped one too) is finished, so no call at all
    again = generate_mcq(src, out, **kw)
    assert len(_Handler.calls) == 5 and again["asked"] == 0 and again["reused"] == 3
    assert out.read_text() == before

    # a new caption costs one call; a changed template asks everything again
    src = _captions(tmp_path, ["img_a", "img_b", "img_c", "img_d"])
    more = generate_mcq(src, out, **kw)
    assert more["asked"] == 1 and len(_Handler.calls) == 6 and more["questions"] == 5
    tmpl = tmp_path / "my_template.txt"
    tmpl.write_text('Write {n} questions.\n"""\n{caption}\n"""\n')
    n = len(_Handler.calls)
    generate_mcq(src, out, **kw, template=str(tmpl))
    assert len(_Handler.calls) > n


def test_mcq_interrupted_run_resumes_where_it_stopped(server, tmp_path):
    src = _captions(tmp_path, ["img_a", "img_b", "img_c", "img_d"])
    out = tmp_path / "mcq.jsonl"
    _Handler.state["fail_c"] = True
    with pytest.raises(UserError, match="HTTP 500"):
        generate_mcq(src, out, base_url=server, model="m", per_caption=2, max_attempts=2, workers=1)
    assert not out.exists()
    assert len(read_jsonl(out.with_name("mcq.jsonl.mcq_cache.jsonl"))) == 2  # a and b are saved
    _Handler.state["fail_c"] = False
    _Handler.calls.clear()
    stats = generate_mcq(src, out, base_url=server, model="m", per_caption=2, max_attempts=2, workers=1)
    assert stats["reused"] == 2 and stats["asked"] == 2 and len(_Handler.calls) == 3  # c twice, d once
    assert stats["questions"] == 5


def test_mcq_command(server, tmp_path, cli, monkeypatch):
    monkeypatch.setenv("MY_LLM_KEY", SECRET)
    src = _captions(tmp_path, ["img_a", "img_d"])
    out = tmp_path / "mcq.jsonl"
    code, stdout, err = cli(["data", "mcq", "--input", str(src), "--out", str(out), "--base-url", server,
                             "--model", "stand-in", "--api-key-env", "MY_LLM_KEY", "--per-caption", "2"])
    assert code == 0, err
    assert "3 questions from 2 captions" in stdout and f"wrote 3 items to {out}" in stdout
    assert SECRET not in stdout + err
    code, stdout, err = cli(["data", "mcq", "--input", str(src), "--out", str(out), "--base-url", server,
                             "--model", "stand-in", "--per-caption", "0"])
    assert code == 2 and "--per-caption" in err
