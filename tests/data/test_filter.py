"""`seethink data filter`: keep items every model gets wrong from the image and right from the caption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from seethink.data.filter import caption_filter_items, filter_file, parse_split, read_items, split_of
from seethink.errors import UserError
from seethink.utils import read_jsonl


def _items(tmp_path: Path, n: int = 6) -> Path:
    (tmp_path / "imgs").mkdir(exist_ok=True)
    rows = []
    for k in range(n):
        Image.new("RGB", (16, 16), (30 * k, 0, 0)).save(tmp_path / "imgs" / f"{k}.png")
        rows.append({"id": f"cap{k}-q0", "task": "caption_mcq", "capability": "perception",
                     "question": f"What is object {k}?", "options": ["a cat", "a dog", "a cup", "a boat"],
                     "answer": "ABCD"[k % 4], "images": [f"imgs/{k}.png"], "caption": f"Object {k} is special."})
    src = tmp_path / "mcq.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return src


class Fake:
    """A filter model: wrong from the image except on `sees`, right from the caption except on `blind`."""

    def __init__(self, sees: set[int], blind: set[int]) -> None:
        self.sees, self.blind, self.prompts = sees, blind, []

    def __call__(self, convs: list[list[dict]], imgs: list[list]) -> list[str]:
        out = []
        for conv, im in zip(convs, imgs, strict=True):
            text = conv[0]["content"]
            self.prompts.append((text, len(im)))
            k = int(text.split("What is object ")[1].split("?")[0])
            right = "ABCD"[k % 4]
            from_caption = text.startswith("Description of the image: ")
            ok = (k not in self.blind) if from_caption else (k in self.sees)
            out.append(f"<think>...</think> \\boxed{{{right if ok else 'ABCD'[(k + 1) % 4]}}}")
        return out


class Boom:
    def __call__(self, convs, imgs):  # noqa: ANN001, ANN204
        raise AssertionError("a cached run must not ask the model")


def test_split_is_a_stable_hash_of_the_id():
    ids = [f"item-{k}" for k in range(4000)]
    parts = [split_of(i) for i in ids]
    shares = {s: parts.count(s) / len(ids) for s in ("train", "val", "test")}
    assert abs(shares["train"] - 0.85) < 0.03 and abs(shares["val"] - 0.05) < 0.015
    assert abs(shares["test"] - 0.10) < 0.02
    assert [split_of(i) for i in ids] == parts  # deterministic
    assert {split_of(i, (1, 0, 0)) for i in ids[:50]} == {"train"}
    assert parse_split("85,5,10") == (85.0, 5.0, 10.0) and parse_split("none") is None
    for bad in ("85,15", "a,b,c", "-1,1,1", "0,0,0"):
        with pytest.raises(UserError, match="--split"):
            parse_split(bad)


def test_every_model_must_pass_and_prompts_are_right(tmp_path: Path):
    items = read_items(_items(tmp_path))
    first, second = Fake(sees={0}, blind={1}), Fake(sees={2}, blind=set())
    kept, stats = caption_filter_items(items, [("m1", "fp1", first), ("m2", "fp2", second)], tmp_path / "cache")
    # m1 drops 0 (seen) and 1 (not right from the caption); m2 drops 2
    assert [it["id"] for it in kept] == ["cap3-q0", "cap4-q0", "cap5-q0"]
    assert [(s["asked"], s["image_right"], s["caption_asked"], s["passed"]) for s in stats] == [
        (6, 1, 5, 4), (4, 1, 3, 3)]
    image_prompts = [p for p in first.prompts if p[1] == 1]
    caption_prompts = [p for p in first.prompts if p[1] == 0]
    assert len(image_prompts) == 6 and len(caption_prompts) == 5  # the caption only where the image failed
    assert caption_prompts[0][0].startswith("Description of the image: Object 1 is special.\nWhat is object 1?")
    assert "\nA. a cat\nB. a dog" in caption_prompts[0][0] and "\\boxed{}" in caption_prompts[0][0]
    assert "Description" not in image_prompts[0][0]
    assert len(second.prompts) == 4 + 3  # the cascade asks m2 only what m1 let through


def test_filter_file_writes_splits_and_resumes(tmp_path: Path):
    src = _items(tmp_path, n=12)
    out = tmp_path / "out" / "kept.jsonl"
    res = filter_file(src, out, [], answerers=[("m1", "fp", Fake(sees={0, 1}, blind={2}))])
    kept = read_jsonl(out)
    assert res["kept"] == len(kept) == 9 and res["items"] == 12
    files = {n: Path(p) for n, p in res["split_files"].items()}
    assert files["train"].name == "kept_train.jsonl" and files["test"].name == "kept_test.jsonl"
    by_split = {n: [r["id"] for r in read_jsonl(p)] for n, p in files.items()}
    assert sorted(sum(by_split.values(), [])) == sorted(r["id"] for r in kept)
    assert all(split_of(i) == n for n, ids in by_split.items() for i in ids)
    assert all((out.parent / r["images"][0]).is_file() for r in kept)  # paths relative to the output
    summary = json.loads(out.with_name("kept.jsonl.filter.json").read_text())
    assert summary["filters"][0]["passed"] == 9
    # a finished run: every answer is cached, so the model is never asked (nor loaded)
    again = filter_file(src, out, [], answerers=[("m1", "fp", Boom())])
    assert again["kept"] == 9 and again["filters"][0]["new_answers"] == 0
    # another fingerprint (other model, template or budget) asks again
    with pytest.raises(AssertionError, match="must not ask"):
        filter_file(src, out, [], answerers=[("m1", "other", Boom())])


def test_interrupted_filter_asks_only_what_is_missing(tmp_path: Path):
    src = _items(tmp_path, n=8)
    items = read_items(src)

    class Dies(Fake):
        def __call__(self, convs, imgs):  # noqa: ANN001, ANN204
            if len(self.prompts) >= 3:
                raise KeyboardInterrupt
            return super().__call__(convs, imgs)

    with pytest.raises(KeyboardInterrupt):
        caption_filter_items(items, [("m", "fp", Dies(sees=set(), blind=set()))], tmp_path / "c", chunk=3)
    rest = Fake(sees=set(), blind=set())
    kept, stats = caption_filter_items(items, [("m", "fp", rest)], tmp_path / "c", chunk=3)
    assert len(kept) == 8 and len(rest.prompts) == 8 + 8 - 3  # 3 image answers were saved before the kill


def test_items_need_a_caption(tmp_path: Path):
    src = tmp_path / "x.jsonl"
    src.write_text(json.dumps({"id": "a", "question": "q?", "answer": "A", "options": ["x", "y"]}) + "\n")
    with pytest.raises(UserError, match=r"x\.jsonl, row 1, field 'caption': missing"):
        read_items(src)


def test_filter_command_with_two_tiny_models(tmp_path: Path, cli, tiny_model_dir: Path):
    """The real path: HF generation with local models (random tiny VLMs: nothing is expected to pass)."""
    src = _items(tmp_path, n=3)
    out = tmp_path / "kept.jsonl"
    args = ["data", "filter", "--input", str(src), "--out", str(out), "--model", str(tiny_model_dir),
            "--model", str(tiny_model_dir), "--max-new-tokens", "4", "--batch-size", "2", "--device", "cpu",
            "--backend", "hf"]
    code, stdout, err = cli(args)
    assert code == 0, err
    assert "backend hf" in stdout and "device cpu" in stdout
    summary = json.loads(out.with_name("kept.jsonl.filter.json").read_text())
    first = summary["filters"][0]
    assert first["asked"] == 3 and first["new_answers"] == 3 + first["caption_asked"]
    assert out.is_file() and all(Path(p).is_file() for p in summary["split_files"].values())
    code, stdout, err = cli(args)  # resumed from the caches: no model is loaded
    assert code == 0, err
    assert "backend hf" not in stdout and "0 new answers" in stdout
