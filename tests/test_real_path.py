"""The whole real path on the CPU, through the command line, on a tiny random Qwen2.5-VL directory
(not the toy model): the path a user takes from their own files to a trained, scored model.

    captions (DOCCI layout) --data captions--> caption items
    captions --data mcq (loopback OpenAI-compatible server)--> MC perception items
    MC items --data filter (two tiny Qwen2.5-VL models)--> kept items, 85/5/10 split
    EasyR1 JSONL (text, visual) --data convert --format easyr1--> reasoning items
    perception train + text + visual --data passk (K=2)--> rows with pass rates
    --seethink run (curriculum by capability x difficulty; staged and merged GRPO)-->
    in-run benchmarks on real WeMath and MATH-Vision items (base, staged, merged; greedy and sampled)
    --> summary.json, report.md, `seethink compare` intervals, `seethink score` on the written files

What is real and what stands in: every model is loaded from its directory and generates (filter,
pass@K, GRPO rollouts, benchmark answers on real images, capped to 112 x 112 pixels by the
processor). A random model answers nothing right, so two answers are replaced after the real
generation ran: the filter's answers *from the caption* (a real filter model reads the caption;
ours cannot) and some benchmark answers (so scores are not 0 everywhere; the rest are the model's
own). Training is real GRPO with a user reward (`reward.extra`) that varies on image items and
is flat on text items: the weights move in the stages whose reward varies and stay bit-identical
in the one whose reward does not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw
from safetensors.torch import load_file

from seethink.utils import read_jsonl

BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"
BENCHES = ("wemath", "mathvision")
LIMIT = 3  # benchmark items per benchmark (We-Math rounds up to whole problem groups)
SAMPLES = 2
PX_CAP = 112 * 112  # the tiny processor's pixel budget: 8 x 8 patches of 14 px, 16 image tokens

pytestmark = pytest.mark.slow

COLOURS = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 170, 60), "yellow": (230, 200, 20)}
SHAPES = ("square", "circle", "triangle", "star")
# (colour, shape) pairs of each scene: one caption and one image per scene
SCENES = [(("red", "square"), ("blue", "circle")), (("green", "triangle"), ("yellow", "square")),
          (("blue", "square"), ("red", "circle")), (("yellow", "circle"), ("green", "square")),
          (("red", "triangle"), ("green", "circle")), (("blue", "triangle"), ("yellow", "circle"))]


def _need_benchmarks() -> None:
    for name in BENCHES:
        if not (BENCH / name).is_dir():
            pytest.skip(f"real benchmark data not present: {BENCH / name} (../shared/benchmarks/{name})")


@pytest.fixture(scope="module")
def qwen25(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two tiny random Qwen2.5-VL directories (hidden 64, 2 layers, vision depth 2, 112 px pixel
    budget), the second from another seed with the first's tokenizer: the filter's two models."""
    from seethink.models.build_tiny import build_tiny

    first = build_tiny("qwen2_5_vl", tmp_path_factory.mktemp("qwen25-a"), seed=0)
    second = build_tiny("qwen2_5_vl", tmp_path_factory.mktemp("qwen25-b"), tokenizer=first, seed=1)
    return first, second


# ---------------------------------------------------------------- input files


def _draw(path: Path, scene: tuple) -> None:
    img = Image.new("RGB", (96, 64), (255, 255, 255))
    d = ImageDraw.Draw(img)
    for k, (colour, shape) in enumerate(scene):
        x0, box = 8 + 48 * k, (8 + 48 * k, 16, 40 + 48 * k, 48)
        if shape == "circle":
            d.ellipse(box, fill=COLOURS[colour])
        elif shape == "triangle":
            d.polygon([(x0, 48), (x0 + 32, 48), (x0 + 16, 16)], fill=COLOURS[colour])
        else:
            d.rectangle(box, fill=COLOURS[colour])
    img.save(path)


def _caption(scene: tuple) -> str:
    (c1, s1), (c2, s2) = scene
    return f"A {c1} {s1} on the left and a {c2} {s2} on the right, on a white background."


def write_inputs(root: Path) -> dict[str, Path]:
    """Captions in DOCCI's layout and reasoning data in EasyR1's (prompt with <image>, answer, images)."""
    (root / "images").mkdir(parents=True)
    docci, visual = [], []
    for k, scene in enumerate(SCENES):
        _draw(root / "images" / f"scene{k}.png", scene)
        docci.append({"example_id": f"scene{k}", "split": "train", "image_file": f"scene{k}.png",
                      "description": _caption(scene)})
        visual.append({"prompt": f"<image>How many shapes are in the image? Multiply that by {k + 2}.",
                       "answer": str(2 * (k + 2)), "images": [f"images/scene{k}.png"]})
    docci.append({"example_id": "held", "split": "test", "image_file": "scene0.png", "description": "A test row."})
    text = [{"prompt": f"Tom has {a} apples and buys {b} more. How many apples does he have?", "answer": str(a + b)}
            for a, b in ((3, 4), (5, 6), (7, 2), (9, 9), (12, 5), (8, 1))]
    paths = {"docci": root / "docci_descriptions.jsonlines", "text": root / "easyr1_text.jsonl",
             "visual": root / "easyr1_visual.jsonl"}
    for name, rows in (("docci", docci), ("text", text), ("visual", visual)):
        paths[name].write_text("".join(json.dumps(r) + "\n" for r in rows))
    return paths


def fake_llm(prompt: str) -> str:
    """The MCQ writer behind the loopback endpoint: two valid questions per caption, quoting it."""
    caption = prompt.split('"""')[1].strip()
    scene = next(s for s in SCENES if _caption(s) == caption)
    (c1, s1), (c2, s2) = scene
    colours = [c1] + [c for c in COLOURS if c != c1][:3]
    shapes = [s2] + [s for s in SHAPES if s != s2][:3]
    return json.dumps({"questions": [
        {"question": f"What colour is the {s1} on the left?", "options": colours, "answer": "A",
         "evidence": f"a {c1} {s1}"},
        {"question": f"What is the shape of the {c2} object on the right?", "options": shapes, "answer": "A",
         "evidence": f"a {c2} {s2}"},
    ]})


# ---------------------------------------------------------------- generation wrappers


def _placement(model) -> tuple[str, str, bool]:  # noqa: ANN001
    p = next(iter(model.parameters()))
    return p.device.type, str(p.dtype).replace("torch.", ""), bool(model.training)


def filter_oracle(real, mcq_rows: list[dict], seen: list[dict]):  # noqa: ANN001, ANN201
    """HF generation for the filter, as it runs; then the answers *from the caption* made right
    (a real filter model reads the caption; a random one cannot), except for the first item,
    which the filter must then drop. Answers from the image stay the model's own."""
    gold = {(r["caption"].strip(), r["question"].strip()): r["answer"] for r in mcq_rows}
    dropped = mcq_rows[0]["id"]

    def generate(model, processor, convs, imgs, **kw):  # noqa: ANN001, ANN202
        outs = real(model, processor, convs, imgs, **kw)
        seen.append({"placement": _placement(model), "n": len(convs)})
        fixed = []
        for conv, out in zip(convs, outs, strict=True):
            text = conv[-1]["content"]
            if not text.startswith("Description of the image: "):
                fixed.append(out)
                continue
            key = next(k for k in gold if k[0] in text and k[1] in text)
            row = next(r for r in mcq_rows if (r["caption"].strip(), r["question"].strip()) == key)
            fixed.append(out if row["id"] == dropped else [f"<think>read</think> \\boxed{{{gold[key]}}}"])
        return fixed

    return generate


def bench_gold() -> dict[str, tuple[str, int, str]]:
    """user prompt -> (benchmark, position among the evaluated items, gold answer)."""
    from seethink.data.prompts import render_prompt
    from seethink.eval import bench_run
    from seethink.eval.benchmarks import load

    out: dict[str, tuple[str, int, str]] = {}
    for name in BENCHES:
        for i, it in enumerate(bench_run.select_items(name, load(name, BENCH / name), LIMIT)):
            out[render_prompt(it)] = (name, i, str(it["answer"]))
    return out


def bench_stand_in(real, base: Path, seen: list[dict]):  # noqa: ANN001, ANN201
    """The model answers every benchmark item (real images, capped pixels); then some answers are
    replaced by right ones, more for trained models than for the base, so scores are not 0 = 0."""
    gold = bench_gold()

    def generate(model, processor, convs, imgs, *, num_return_sequences=1, temperature=0.0, **kw):  # noqa: ANN001, ANN202
        outs = real(model, processor, convs, imgs, num_return_sequences=num_return_sequences,
                    temperature=temperature, **kw)
        flat = [im for row in imgs for im in row]
        grid = processor.image_processor(images=flat, return_tensors="pt")["image_grid_thw"] if flat else None
        is_base = Path(model.name_or_path).resolve() == base.resolve()
        seen.append({"placement": _placement(model), "n": num_return_sequences, "base": is_base,
                     "pixels": [im.width * im.height for im in flat],
                     "patches": [int(g.prod()) for g in grid] if grid is not None else []})
        fixed = []
        for conv, out in zip(convs, outs, strict=True):
            _, pos, ans = gold[conv[-1]["content"]]
            right = f"<think>ok</think> Answer: {ans}. \\boxed{{{ans}}}"
            if temperature == 0:
                fixed.append([right] if (pos == 0 if is_base else pos % 2 == 0) else out)
            else:
                fixed.append([right if (j == 0 and pos % 2 == 0) else o for j, o in enumerate(out)])
        return fixed

    return generate


# ---------------------------------------------------------------- the test


REWARD = '''
def varied_on_images(completion, item):
    """Graded by length on image items (the GRPO groups differ), flat on text-only items."""
    if item.get("capability") == "text":
        return {"overall": 0.0}
    return {"overall": min(len(completion), 200) / 200}
'''


def _tensors(ckpt: Path) -> dict[str, torch.Tensor]:
    return load_file(str(ckpt / "model.safetensors"))


def _changed(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> set[str]:
    assert set(a) == set(b)
    return {k for k in a if not torch.equal(a[k], b[k])}


def test_real_path_captions_to_benchmarks(qwen25: tuple[Path, Path], tmp_path: Path, cli, openai_server,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    _need_benchmarks()
    from seethink.eval import bench_generate, bench_run, engine
    from seethink.eval.device import placement

    model, second = qwen25
    dev, dt = placement("auto", "auto", "float32")  # what `auto` must choose: cpu and float32 without a GPU
    placed = (dev.split(":")[0], dt, False)  # (device type, dtype, training mode) seen at every generation
    if not torch.cuda.is_available():
        assert (dev, dt) == ("cpu", "float32")
    inputs = write_inputs(tmp_path / "in")
    data = tmp_path / "data"
    n_scenes = len(SCENES)

    # 1. Captions (DOCCI layout) -> caption items; the test-split row is left out.
    code, out, err = cli(["data", "captions", "--input", str(inputs["docci"]), "--image-root",
                          str(tmp_path / "in" / "images"), "--split", "train", "--out", str(data / "captions.jsonl")])
    assert code == 0, err
    captions = read_jsonl(data / "captions.jsonl")
    assert len(captions) == n_scenes and f"{n_scenes} caption items" in out
    assert all((data / c["images"][0]).is_file() and c["answer"] == c["caption"] for c in captions)

    # 2. Multiple-choice questions from the captions, written by an LLM behind a loopback server.
    url, calls = openai_server(fake_llm)
    mcq_path = data / "mcq.jsonl"
    code, out, err = cli(["data", "mcq", "--input", str(inputs["docci"]), "--image-root",
                          str(tmp_path / "in" / "images"), "--split", "train", "--out", str(mcq_path),
                          "--base-url", url, "--model", "stand-in-llm", "--per-caption", "2"])
    assert code == 0, err
    mcq = read_jsonl(mcq_path)
    assert len(calls) == n_scenes and len(mcq) == 2 * n_scenes
    assert all(r["task"] == "caption_mcq" and r["capability"] == "perception" and len(r["options"]) == 4
               and r["answer"] in "ABCD" and (data / r["images"][0]).is_file() for r in mcq)
    assert len({r["answer"] for r in mcq}) > 1  # options reordered: the right letter is not always A

    # 3. The caption filter with two tiny Qwen2.5-VL models, on the CPU chosen by `auto`.
    filter_calls: list[dict] = []
    kept_path = data / "perception.jsonl"
    with monkeypatch.context() as m:
        m.setattr(engine, "generate", filter_oracle(engine.generate, mcq, filter_calls))
        code, out, err = cli(["data", "filter", "--input", str(mcq_path), "--out", str(kept_path),
                              "--model", str(model), "--model", str(second), "--device", "auto", "--dtype", "auto",
                              "--backend", "auto", "--max-new-tokens", "8", "--batch-size", "8"])
    assert code == 0, err
    assert out.count(f"backend hf, device {dev}, dtype {dt}") == 2
    report = json.loads(kept_path.with_name("perception.jsonl.filter.json").read_text())
    first, other = report["filters"]
    assert (first["asked"], first["image_right"]) == (2 * n_scenes, 0)  # random models see nothing
    kept = read_jsonl(kept_path)
    assert len(kept) == 2 * n_scenes - 1 and mcq[0]["id"] not in {r["id"] for r in kept}
    assert other["asked"] == len(kept)  # the cascade asks the second model only what the first let through
    splits = {n: read_jsonl(p) for n, p in report["split_files"].items()}
    assert sum(len(v) for v in splits.values()) == len(kept) and splits["train"]
    assert {c["placement"] for c in filter_calls} == {placed}

    # 4. Reasoning data in EasyR1's format -> seethink items.
    for cap in ("text", "visual"):
        code, out, err = cli(["data", "convert", "--input", str(inputs[cap]), "--format", "easyr1",
                              "--capability", cap, "--out", str(data / f"{cap}.jsonl")])
        assert code == 0, err
        rows = read_jsonl(data / f"{cap}.jsonl")
        assert len(rows) == 6 and {r["capability"] for r in rows} == {cap}
        assert all("<image>" not in r["question"] and len(r["images"]) == (cap == "visual") for r in rows)
        assert all((data / p).is_file() for r in rows for p in r["images"])

    # 5. Difficulty by pass@K with the tiny model.
    passk_calls: list[dict] = []
    ranked: dict[str, Path] = {}
    with monkeypatch.context() as m:
        real = engine.generate

        def recording(model_, processor, convs, imgs, **kw):  # noqa: ANN001, ANN202
            passk_calls.append({"placement": _placement(model_), "k": kw.get("num_return_sequences")})
            return real(model_, processor, convs, imgs, **kw)

        m.setattr(engine, "generate", recording)
        for cap, src in (("perception", Path(report["split_files"]["train"])), ("text", data / "text.jsonl"),
                         ("visual", data / "visual.jsonl")):
            ranked[cap] = data / f"{cap}_passk.jsonl"
            code, out, err = cli(["data", "passk", "--model", str(model), "--input", str(src), "--k", "2",
                                  "--max-new-tokens", "8", "--device", "auto", "--dtype", "auto",
                                  "--out", str(ranked[cap])])
            assert code == 0, err
            rows, before = read_jsonl(ranked[cap]), read_jsonl(src)
            assert [r["id"] for r in rows] == [r["id"] for r in before] and f"{len(rows)} rows" in out
            assert all(len(r["predictions"]) == 2 and len(r["correctness"]) == 2 and 0 <= r["pass_rate"] <= 1
                       for r in rows)
    assert {c["placement"] for c in passk_calls} == {placed}
    assert {c["k"] for c in passk_calls} == {2}

    # 6. Staged and merged GRPO from the ranked files, then the benchmarks inside the run.
    reward = tmp_path / "reward.py"
    reward.write_text(REWARD)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"""
name: real-path
model: {{path: {model}}}
variants: [staged, merged]
parallel: 1
threads: 1
curriculum:
  mode: capability_x_difficulty
  inputs: {{perception: {ranked['perception']}, text: {ranked['text']}, visual: {ranked['visual']}}}
  order: [perception, text, visual]
trainer: {{max_steps: 2, batch_size: 2, group_size: 4, learning_rate: 1.0e-3, beta: 0.0,
           max_completion_length: 8, save_steps: 0, temperature: 1.0}}
reward: {{extra: ["{reward}:varied_on_images"], extra_weights: [1.0]}}
eval: {{benchmarks: [{', '.join(BENCHES)}], data_root: {BENCH}, benchmark_limit: {LIMIT},
        benchmark_max_new_tokens: 8, samples: {SAMPLES}, device: auto, dtype: auto, backend: auto, stages: true,
        during_training: {{every: 1, benchmarks: [mathvision], limit: 2}}}}
""")
    run = tmp_path / "run"
    bench_calls: list[dict] = []
    with monkeypatch.context() as m:
        m.setattr(bench_generate, "generate", bench_stand_in(bench_generate.generate, model, bench_calls))
        code, out, err = cli(["run", str(recipe), "--out", str(run)])
    assert code == 0, err[-3000:]
    capsys.readouterr()

    # Training: each stage's reward varied or not, and the weights moved exactly where it did.
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    steps = {}
    for r in metrics:
        if "reward" in r:
            steps.setdefault((r["variant"], r["stage"]), []).append(r)
    assert sorted(steps) == [("merged", "merged"), ("staged", "perception"), ("staged", "text"),
                             ("staged", "visual")]
    assert [len(steps[("staged", s)]) for s in ("perception", "text", "visual")] == [2, 2, 2]
    assert len(steps[("merged", "merged")]) == 6
    for key in (("staged", "perception"), ("staged", "visual")):
        assert all(r["reward_std"] > 0 for r in steps[key]), steps[key]
    assert any(r["reward_std"] > 0 for r in steps[("merged", "merged")])  # a step of two text items is flat
    assert all(r["reward_std"] == 0 and r["reward"] == 0 for r in steps[("staged", "text")])

    val = [r for r in metrics if "eval/mathvision" in r]  # validation during training: every step
    assert sorted((r["variant"], r["stage"], r["step"]) for r in val) == sorted(
        (r["variant"], r["stage"], r["step"]) for r in metrics if "reward" in r)
    assert {r["eval/mathvision"] for r in val} == {50.0}  # stand-in: the first of its 2 items right

    st = run / "stages" / "staged"
    w = {"base": _tensors(model), "perception": _tensors(st / "01-perception" / "checkpoint"),
         "text": _tensors(st / "02-text" / "checkpoint"), "visual": _tensors(st / "03-visual" / "checkpoint"),
         "merged": _tensors(run / "stages" / "merged" / "01-merged" / "checkpoint")}
    lm = {k for k in w["base"] if "visual" not in k.split(".")[:2]}
    assert _changed(w["base"], w["perception"]) & lm  # reward varied: the language model moved
    assert not _changed(w["perception"], w["text"])  # flat reward, beta 0: zero advantages, no update at all
    assert _changed(w["text"], w["visual"]) & lm
    assert _changed(w["base"], w["merged"]) & lm
    curriculum = json.loads((run / "curriculum" / "curriculum.json").read_text())
    assert [s["items"] for s in curriculum["stages"]] == [len(splits["train"]), 6, 6]

    # Evaluation: real items, placed by `auto` (cpu, float32 here), images capped in pixels, no toy item.
    assert bench_calls and {c["placement"] for c in bench_calls} == {placed}
    assert {c["n"] for c in bench_calls} == {1, SAMPLES} and {c["base"] for c in bench_calls} == {True, False}
    pixels = [p for c in bench_calls for p in c["pixels"]]
    assert max(pixels) > 4 * PX_CAP  # real images, far larger than the budget ...
    assert max(p for c in bench_calls for p in c["patches"]) <= PX_CAP // 14 ** 2  # ... read as 8 x 8 patches
    summary = json.loads((run / "summary.json").read_text())
    meta = summary["meta"]["eval"]
    assert (meta["toy"], meta["device"], meta["dtype"], meta["protocol"]) == (False, dev, dt, "unified")
    models = ("base", "staged@perception", "staged@text", "staged", "merged")
    assert set(summary) == {*models, "meta"}
    assert not (run / "eval" / "base" / "predictions.jsonl").exists()

    # In-run scores are exactly `seethink score` on the files the run wrote.
    for name_ in models:
        s = summary[name_]
        assert set(s["by_capability"]) == {f"bench:{b}" for b in BENCHES}
        for bench in BENCHES:
            bdir = run / "eval" / name_ / "bench" / bench
            results = bdir / bench_run.results_filename(bench)
            code, out, err = cli(["score", bench, str(results), "--data", str(BENCH / bench)])
            assert code == 0, err
            official = json.loads(out)
            b = s["benchmarks"][bench]
            assert (b["accuracy"], b["correct"], b["total"], b["protocol"]) == (
                official["accuracy"], official["correct"], official["total"], "unified")
            written = json.loads((bdir / "metrics.json").read_text())
            assert {k: written[k] for k in official} == official  # every official key, wemath's scores too
            assert (written["run"]["device"], written["run"]["dtype"], written["run"]["backend"]) == (dev, dt, "hf")
            preds = read_jsonl(bdir / "predictions.jsonl")
            assert len(preds) == official["total"] >= LIMIT and sum(p["correct"] for p in preds) == official["correct"]
            assert official["correct"] > 0
            assert b["sampled_accuracy"] == pytest.approx(
                100 * sum(p["sampled_correct"] for p in preds) / len(preds), abs=0.01)
            assert s["by_capability"][f"bench:{bench}"]["accuracy"] == pytest.approx(official["accuracy"], abs=0.01)
    assert summary["staged"]["benchmarks"]["mathvision"]["correct"] > summary["base"]["benchmarks"]["mathvision"][
        "correct"]

    # Intervals: the report and `seethink compare` carry benchmark rows for both trained models.
    report_md = (run / "report.md").read_text()
    bench_md = report_md.split("## Benchmarks (official scorers; unified protocol", 1)[1].split("\n## ", 1)[0]
    assert bench_md.startswith(f", {dt} on {dev})")
    for name_ in models:
        cells = [f"{summary[name_]['benchmarks'][b]['accuracy']:.1f} / {summary[name_]['benchmarks'][b]['sampled_accuracy']:.1f}"
                 f" [unified] (n={summary[name_]['benchmarks'][b]['total']})" for b in BENCHES]
        assert f"| {name_} | {' | '.join(cells)} |" in bench_md
    code, out, err = cli(["compare", str(run), "--out", str(tmp_path / "effects.json")])
    assert code == 0, err
    effects = {(r["label"], r["capability"]): r for r in json.loads((tmp_path / "effects.json").read_text())}
    for bench in BENCHES:
        cap = f"bench:{bench}"
        for label in ("staged: stage 'perception'", "staged: stage 'text'", "staged: stage 'visual'",
                      "merged: stage 'merged'", "staged vs base", "staged vs merged"):
            assert (label, cap) in effects and f"| {label} | {cap} |" in out
        g = effects[("staged vs base", cap)]["greedy"]
        acc = {m: summary[m]["by_capability"][cap]["accuracy"] for m in ("base", "staged")}
        assert g["delta"] == pytest.approx(acc["staged"] - acc["base"], abs=0.01) and g["delta"] > 0
        assert g["ci_low"] <= g["delta"] <= g["ci_high"] and g["items"] == summary["base"]["benchmarks"][bench]["total"]
        text_stage = effects[("staged: stage 'text'", cap)]  # the weights did not move: the same answers
        assert text_stage["greedy"]["delta"] == 0 and text_stage["sampled"]["delta"] == 0


def test_placement_without_a_gpu(qwen25: tuple[Path, Path], tmp_path: Path, cli,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """What can be checked of device placement on a CPU: an explicit dtype reaches the weights the
    benchmark answers come from, and `eval.device=cuda` stops a run before any training."""
    _need_benchmarks()
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: this checks the CPU side of placement")
    from seethink.eval import bench_generate

    seen: list[tuple] = []
    real = bench_generate.generate

    def recording(model, processor, convs, imgs, **kw):  # noqa: ANN001, ANN202
        seen.append(_placement(model))
        return real(model, processor, convs, imgs, **kw)

    monkeypatch.setattr(bench_generate, "generate", recording)
    out = tmp_path / "eval"
    code, _, err = cli(["eval", "--model", str(qwen25[0]), "--benchmarks", "mathvision", "--data-root", str(BENCH),
                        "--limit", "2", "--max-new-tokens", "4", "--device", "cpu", "--dtype", "bfloat16",
                        "--out", str(out)])
    assert code == 0, err
    assert seen and set(seen) == {("cpu", "bfloat16", False)}
    run_info = json.loads((out / "mathvision" / "metrics.json").read_text())["run"]
    assert (run_info["device"], run_info["dtype"]) == ("cpu", "bfloat16")

    data = tmp_path / "t.jsonl"
    data.write_text(json.dumps({"id": "a", "question": "What is 2 + 2?", "answer": "4"}) + "\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"model: {{path: {qwen25[0]}}}\nvariants: [staged]\nstages: [{{name: t, data: {data}}}]\n")
    code, _, err = cli(["run", str(recipe), "eval.device=cuda", "eval.benchmarks=[mathvision]",
                        f"eval.data_root={BENCH}", "--out", str(tmp_path / "run")])
    assert code == 2 and "no CUDA GPU is visible" in err
    assert not (tmp_path / "run" / "stages").exists()
