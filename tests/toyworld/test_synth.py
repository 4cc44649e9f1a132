"""Toy perception synthesis: templated answers, the caption filter (intersection), 85/5/10 splits."""

from __future__ import annotations

from pathlib import Path

import pytest

from seethink.toyworld.scenes import Scene
from seethink.toyworld.synth import (
    CAPTION_PREFIX,
    caption_filter,
    caption_item,
    split_items,
    synthesize,
    write_splits,
)
from seethink.utils import read_jsonl


@pytest.fixture(autouse=True)
def _one_torch_thread(monkeypatch):
    """A tiny model decodes ~100x slower with 2 spinning threads when other jobs hold the cores."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("SEETHINK_THREADS", "1")  # the CLI pins threads itself
    yield
    torch.set_num_threads(n)


def test_templated_answers_match_the_scene():
    items = synthesize(40, seed=1)
    assert items == synthesize(40, seed=1) and len({it["id"] for it in items}) == len(items)
    for it in items:
        scene = Scene.from_facts(it["facts"])
        chosen = it["options"]["ABCDE".index(it["answer"])]
        q = it["question"]
        if it["facts"]["family"] == "count_color":
            assert chosen == str(scene.count(color=q.split()[2]))
        elif it["facts"]["family"] == "exists":
            c, s = q.rstrip("?").split()[-2:]
            assert chosen == ("yes" if scene.count(color=c, shape=s) else "no")
        assert it["caption"] == scene.caption()


def test_caption_filter_keeps_image_wrong_caption_right_in_every_filter():
    items = synthesize(3, seed=0)[:4]

    def right(it: dict) -> str:
        return f"<think> x</think> \\boxed{{{it['answer']}}}"

    def wrong(it: dict) -> str:
        return "\\boxed{Z}"

    def filt(image_right: set[int], caption_right: set[int]):
        def answer(batch, with_image):
            good = image_right if with_image else caption_right
            return [right(it) if i in good else wrong(it) for i, it in enumerate(batch)]

        return answer

    filt_a = filt(image_right={3}, caption_right={0, 1, 3})  # passes items 0, 1
    filt_b = filt(image_right=set(), caption_right={1, 2})  # passes items 1, 2

    kept_a, stats_a = caption_filter(items, [filt_a])
    assert [items.index(k) for k in kept_a] == [0, 1] and stats_a["filters"][0]["passed"] == 2
    kept, stats = caption_filter(items, [filt_a, filt_b])
    assert [items.index(k) for k in kept] == [1] and stats["kept"] == 1
    seen = []
    caption_filter(items[:1], [lambda b, w: seen.append((w, b[0])) or [wrong(b[0])]])
    assert seen[0][1] is items[0] and seen[1][0] is False
    assert seen[1][1]["question"].startswith(CAPTION_PREFIX) and seen[1][1]["images"] == []
    assert "facts" not in caption_item(items[0])  # nothing left to render an image from


def test_caption_filter_with_a_real_model(tiny_model_dir: Path):
    from seethink.models.load import load_model

    items = synthesize(2, seed=0)[:3]
    kept, stats = caption_filter(items, [load_model(tiny_model_dir)], max_new_tokens=4)
    assert stats["items"] == 3 and len(kept) == stats["kept"] <= 3


def test_split_is_deterministic_85_5_10(tmp_path: Path):
    items = synthesize(400, seed=2)
    parts = split_items(items)
    n = len(items)
    assert sum(len(v) for v in parts.values()) == n
    assert abs(len(parts["train"]) / n - 0.85) < 0.04
    assert abs(len(parts["val"]) / n - 0.05) < 0.03
    assert abs(len(parts["test"]) / n - 0.10) < 0.03
    # An item's split depends only on itself.
    again = split_items(list(reversed(items[: n // 2])))
    assert {it["id"] for it in again["test"]} <= {it["id"] for it in parts["test"]}
    paths = write_splits(items[:30], tmp_path)
    assert sum(len(read_jsonl(p)) for p in paths.values()) == 30
    assert all(r["images"] for r in read_jsonl(paths["train"]))


def test_synth_command_writes_splits(cli, tmp_path):
    out = tmp_path / "synth"
    code, stdout, err = cli(["data", "synth", "--n-scenes", "40", "--out", str(out)])
    assert code == 0, err
    rows = {name: (out / f"{name}.jsonl").read_text().splitlines() for name in ("train", "val", "test")}
    assert sum(len(v) for v in rows.values()) > 40
    assert len(rows["train"]) > len(rows["test"]) > 0
