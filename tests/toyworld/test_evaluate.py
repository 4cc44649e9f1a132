"""Toy evaluation: batched generation is order-preserving and the ablations really change images."""

from __future__ import annotations

from pathlib import Path

from seethink.eval.engine import generate
from seethink.rewards import build_reward
from seethink.toyworld import generate_items
from seethink.toyworld.evaluate import _images, evaluate_model, majority_baseline, summarize


def test_ablation_images():
    items = generate_items("perception", 6, "test", seed=1) + generate_items("text", 2, "test", seed=1)
    real = _images(items, "real")
    blank = _images(items, "blank")
    shuffled = _images(items, "shuffled", seed=3)
    assert [len(x) for x in real] == [1] * 6 + [0, 0]
    assert all(len(b) == len(r) for b, r in zip(blank, real, strict=True))
    assert all(b[0].getextrema() == ((255, 255), (255, 255), (255, 255)) for b in blank[:6])
    real_bytes = sorted(r[0].tobytes() for r in real[:6])
    assert sorted(s[0].tobytes() for s in shuffled[:6]) == real_bytes  # same images...
    assert [s[0].tobytes() for s in shuffled[:6]] != [r[0].tobytes() for r in real[:6]]  # ...moved
    assert shuffled[6:] == [[], []]  # text items stay text-only


def test_batched_generation_matches_one_at_a_time(tiny_model_dir: Path):
    from seethink.data.images import item_images
    from seethink.data.prompts import render_prompt
    from seethink.models.load import load_model

    model, processor = load_model(tiny_model_dir)
    items = generate_items("perception", 3, "test", seed=2) + generate_items("text", 3, "test", seed=2)
    convs = [[{"role": "user", "content": render_prompt(it)}] for it in items]
    imgs = [item_images(it) for it in items]
    batched = generate(model, processor, convs, imgs, max_new_tokens=8, batch_size=6)
    single = generate(model, processor, convs, imgs, max_new_tokens=8, batch_size=1)
    assert batched == single
    sampled = generate(model, processor, convs[:2], imgs[:2], max_new_tokens=4, temperature=1.0,
                       num_return_sequences=3)
    assert [len(s) for s in sampled] == [3, 3]


def test_metrics_shape(tiny_model_dir: Path):
    from seethink.models.load import load_model

    model, processor = load_model(tiny_model_dir)
    items = generate_items("perception", 4, "test", seed=3) + generate_items("visual", 4, "test", seed=3)
    metrics, preds = evaluate_model(model, processor, items, build_reward(), max_new_tokens=6)
    assert set(metrics["by_capability"]) == {"perception", "visual"}
    assert set(metrics["ablation"]) == {"blank", "shuffled"}
    assert len(preds) == 8 and all("response_tokens" in p for p in preds)


def test_summary_and_baseline():
    items = [{"answer": "A", "capability": "perception"}] * 3 + [{"answer": "B", "capability": "perception"}]
    assert majority_baseline(items) == 75.0
    preds = [{"capability": "perception", "correct": c, "format": 1.0, "response_tokens": 10, "think_tokens": 4}
             for c in (True, False, True, True)]
    s = summarize(preds, items)
    assert s["accuracy"] == 75.0 and s["by_capability"]["perception"]["mean_think_tokens"] == 4


def test_sampled_evaluation_is_seeded_and_resumes(tiny_model_dir: Path, tmp_path: Path):
    """Sampled scores are fractions of k samples; a resumed pass reproduces them exactly."""
    from seethink.models.load import load_model
    from seethink.utils import read_jsonl

    model, processor = load_model(tiny_model_dir)
    items = generate_items("perception", 4, "test", seed=4) + generate_items("text", 2, "test", seed=4)
    kw = dict(max_new_tokens=6, batch_size=2, samples=3, temperature=1.0, top_p=1.0, seed=5)
    _, first = evaluate_model(model, processor, items, build_reward(), ablation=False, **kw)
    assert all(p["sampled_correct"] in (0.0, 1 / 3, 2 / 3, 1.0) for p in first)
    # An interrupted pass left only its first batch behind: the rest is generated again.
    partial = tmp_path / "responses.partial.jsonl"
    evaluate_model(model, processor, items, build_reward(), ablation=False, resume_file=partial, **kw)
    rows = read_jsonl(partial)
    sampled_rows = [r for r in rows if r["mode"] == "real-sampled"]
    assert sampled_rows and all(len(r["responses"]) == 3 for r in sampled_rows)
    keep = [r for r in rows if r["mode"] == "real"] + sampled_rows[:2]
    partial.write_text("".join(__import__("json").dumps(r) + "\n" for r in keep))
    metrics, resumed = evaluate_model(model, processor, items, build_reward(), ablation=False,
                                      resume_file=partial, **kw)
    assert [p["sampled_correct"] for p in resumed] == [p["sampled_correct"] for p in first]
    assert "sampled_accuracy" in metrics["by_capability"]["perception"]
