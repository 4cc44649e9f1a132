"""EasyR1 export: rows, images, format prompt, reward.py, batch sizes and the config, checked
against EasyR1's own rules; EasyR1's own code runs on an export where an EasyR1 environment exists."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import jinja2
import pytest
import typer
import yaml
from typer.testing import CliRunner

from seethink.data.commands import register
from seethink.data.easyr1 import (
    REWARD_FILE,
    VENDOR_PKG,
    check_easyr1_config,
    easyr1_batches,
    export_easyr1,
    format_prompt_jinja,
)
from seethink.data.export import write_toy_items
from seethink.data.prompts import render_prompt
from seethink.errors import UserError
from seethink.toyworld import generate_items
from seethink.utils import read_jsonl, write_jsonl


def _easyr1_messages(prompt: str, fmt: str) -> list[dict]:
    """How EasyR1's RLHFDataset builds the user turn: render the format prompt, split on <image>."""
    text = jinja2.Template(fmt.strip()).render(content=prompt)
    content: list[dict] = []
    for i, part in enumerate(text.split("<image>")):
        if i:
            content.append({"type": "image"})
        if part:
            content.append({"type": "text", "text": part})
    return content


def _config(out: Path) -> dict:
    return yaml.safe_load((out / "easyr1_config.yaml").read_text())


def test_export_schema_images_and_prompt(tmp_path: Path):
    src = write_toy_items("perception", 8, "train", 0, tmp_path / "in" / "p.jsonl")
    out = tmp_path / "er1"
    info = export_easyr1(src, out)
    rows = read_jsonl(out / "train.jsonl")
    items = read_jsonl(src)
    assert info["items"] == 8 and len(rows) == 8
    for row, it in zip(rows, items, strict=True):
        assert set(row) == {"prompt", "ground_truth", "answer", "images", "id", "capability"}
        assert row["prompt"].count("<image>") == len(row["images"]) == 1 and row["prompt"].startswith("<image>")
        assert row["answer"] == it["answer"]
        assert json.loads(row["ground_truth"]) == {"answer": it["answer"], "options": it["options"]}
        # Copied into the export (data.image_dir = out): the folder stands alone.
        assert row["images"][0].startswith("images/") and (out / row["images"][0]).is_file()
        # What EasyR1 shows the model is seethink's own prompt, image first.
        msg = _easyr1_messages(row["prompt"], (out / "format_prompt.jinja").read_text())
        assert msg[0] == {"type": "image"} and msg[1]["text"] == render_prompt(it)


def test_image_files_are_copied_into_the_export(tmp_path: Path):
    from PIL import Image

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    Image.new("RGB", (8, 8), (1, 1, 1)).save(tmp_path / "a" / "x.png")
    Image.new("RGB", (8, 8), (2, 2, 2)).save(tmp_path / "b" / "x.png")  # same name, another image
    write_jsonl(tmp_path / "m.jsonl", [
        {"id": "m1", "question": "Same?", "answer": "no", "images": ["a/x.png", "b/x.png"]},
        {"id": "m2", "question": "Again?", "answer": "yes", "images": [str(tmp_path / "a" / "x.png")]},
    ])
    out = tmp_path / "o"
    export_easyr1(tmp_path / "m.jsonl", out, gpus=1)
    r1, r2 = read_jsonl(out / "train.jsonl")
    assert r1["prompt"].startswith("<image><image>Same?") and len(set(r1["images"])) == 2
    assert r2["images"] == r1["images"][:1]  # one copy of a file two rows share
    shutil.rmtree(tmp_path / "a")
    shutil.rmtree(tmp_path / "b")  # the export no longer needs the originals
    got = [Image.open(out / p).getpixel((0, 0)) for p in r1["images"]]
    assert got == [(1, 1, 1), (2, 2, 2)]
    assert all(not Path(p).is_absolute() and ".." not in p for p in r1["images"])


def test_config_matches_seethinks_trainer_and_easyr1s_rules(tmp_path: Path):
    src = write_toy_items("text", 20, "train", 0, tmp_path / "t.jsonl")
    val = write_toy_items("text", 4, "test", 0, tmp_path / "v.jsonl")
    out = tmp_path / "o"
    export_easyr1(src, out, val_path=val, group_size=8, lr=2e-6, kl_coef=0.05, gpus=4, model_path="/m")
    cfg = _config(out)
    d, a, w = cfg["data"], cfg["algorithm"], cfg["worker"]
    assert Path(d["train_files"]) == (out / "train.jsonl").resolve()
    assert Path(d["val_files"]) == (out / "val.jsonl").resolve()
    assert (d["prompt_key"], d["answer_key"], d["image_key"]) == ("prompt", "ground_truth", "images")
    assert Path(d["format_prompt"]).is_file() and Path(d["image_dir"]) == out.resolve()
    # Written out, not left to EasyR1's defaults: the KL form and where it applies, the loss
    # averaging, the clip range, image sizing, prompt and response limits, the reward function.
    assert (a["kl_penalty"], a["use_kl_loss"], a["disable_kl"], a["kl_coef"]) == ("low_var_kl", True, False, 0.05)
    assert w["actor"]["loss_avg_mode"] == "seq"
    assert (w["actor"]["clip_ratio_low"], w["actor"]["clip_ratio_high"]) == (0.2, 0.2)
    assert (d["min_pixels"], d["max_pixels"]) == (None, None)
    assert (d["max_prompt_length"], d["max_response_length"]) == (2048, 2048)
    assert w["reward"]["reward_function"] == f"{(out / REWARD_FILE).resolve()}:compute_score"
    assert w["reward"]["reward_function_kwargs"] == {"accuracy_weight": 0.9, "format_weight": 0.1, "timeout_s": 5.0}
    assert w["rollout"]["n"] == 8 and w["actor"]["optim"]["lr"] == pytest.approx(2e-6)
    assert w["actor"]["optim"]["weight_decay"] == pytest.approx(1e-2)
    assert w["actor"]["model"] == {"model_path": "/m", "freeze_vision_tower": False, "trust_remote_code": False}
    assert cfg["trainer"]["n_gpus_per_node"] == 4 and "wandb" not in cfg["trainer"]["logger"]
    assert d["rollout_batch_size"] <= 20 and check_easyr1_config(cfg, 20) == []
    rows = read_jsonl(out / "train.jsonl")
    assert rows[0]["images"] == [] and "<image>" not in rows[0]["prompt"]
    export_easyr1(src, out, kl_coef=0.0, gpus=4)  # KL 0: no reference model, as TRL at beta 0
    cfg = _config(out)
    assert cfg["algorithm"]["disable_kl"] is True and not (out / "val.jsonl").exists()
    assert Path(cfg["data"]["val_files"]) == (out / "train.jsonl").resolve()


@pytest.mark.parametrize("gpus", [1, 2, 3, 4, 6, 8, 16])
@pytest.mark.parametrize("group_size", [2, 4, 5, 8])
def test_batch_sizes_satisfy_easyr1_for_any_row_count(gpus: int, group_size: int, tmp_path: Path):
    """Every export EasyR1 could train is sized to start; every other one is refused, clearly."""
    for n_rows in (1, 2, 3, 5, 7, 8, 12, 31, 64, 100, 127, 128, 300, 511, 512, 513, 5000):
        try:
            b = easyr1_batches(n_rows, group_size, gpus)
        except UserError as exc:
            assert "too few for EasyR1" in str(exc) and f"{gpus} GPU" in str(exc)
            assert n_rows < gpus // math.gcd(group_size, gpus)  # not even one optimizer step's prompts
            continue
        cfg = {"data": {"rollout_batch_size": b["rollout_batch_size"]},
               "algorithm": {"adv_estimator": "grpo"},
               "worker": {"actor": {k: b[k] for k in ("global_batch_size", "micro_batch_size_per_device_for_update",
                                                      "micro_batch_size_per_device_for_experience")},
                          "rollout": {"n": group_size, "tensor_parallel_size": b["tensor_parallel_size"]},
                          "reward": {"reward_function": __file__}},
               "trainer": {"n_gpus_per_node": gpus, "nnodes": 1}}
        assert check_easyr1_config(cfg, n_rows) == [], (n_rows, b)
        assert b["rollout_batch_size"] <= min(n_rows, 512) and b["global_batch_size"] <= 128
    if (128 * group_size) % gpus == 0:  # the paper's batches whenever the GPUs split them
        assert easyr1_batches(5000, group_size, gpus)["rollout_batch_size"] == 512
        assert easyr1_batches(5000, group_size, gpus)["global_batch_size"] == 128


def test_too_small_export_is_refused_before_writing(tmp_path: Path):
    src = write_toy_items("text", 3, "train", 0, tmp_path / "t.jsonl")
    with pytest.raises(UserError, match=r"3 training row\(s\), too few for EasyR1 on 8 GPU\(s\).*at least 8 prompts"):
        export_easyr1(src, tmp_path / "o", gpus=8, group_size=5)
    assert not (tmp_path / "o").exists()
    export_easyr1(src, tmp_path / "o", gpus=1, group_size=5)  # one GPU: 3 rows make a rollout
    assert _config(tmp_path / "o")["data"]["rollout_batch_size"] == 3


def test_easyr1_defaults_would_not_start(tmp_path: Path):
    """What the rules catch: EasyR1's defaults with no reward function and a 512-prompt rollout."""
    broken = check_easyr1_config({"data": {}, "worker": {"rollout": {"n": 5}}}, 100)
    assert any("reward_function is not set" in b for b in broken)
    assert any("cannot fill one rollout batch of 512" in b for b in broken)


_RESPONSES = [  # (response, item) pairs a right answer may take, and some wrong ones
    (r"<think>count</think> \boxed{B}", {"answer": "B", "options": ["1", "2", "3"]}),
    (r"<think>count</think> \boxed{B.}", {"answer": "B", "options": ["1", "2", "3"]}),
    (r"<think>count</think> \boxed{(B)}", {"answer": "B", "options": ["1", "2", "3"]}),
    (r"<think>look</think> The answer is \boxed{blue}.", {"answer": "B", "options": ["red", "blue"]}),
    (r"<think>look</think> \boxed{A}", {"answer": "B", "options": ["red", "blue"]}),
    (r"<think>a</think> \boxed{5}", {"answer": "5"}),
    (r"<think>a</think> \boxed{\frac{10}{2}}", {"answer": "5"}),
    (r"<think>a</think> \boxed{5.0}", {"answer": "5"}),
    (r"\boxed{5}", {"answer": "5"}),  # right, but no think: format 0
    (r"<think>a</think> \boxed{6}", {"answer": "5"}),
    (r"<think>a</think><think>b</think> \boxed{5}", {"answer": "5"}),
    ("no box", {"answer": "5"}),
]
_SYMBOLIC = (r"<think>a</think> \boxed{2\sqrt{2}}", {"answer": r"\sqrt{8}"})  # math-verify's part

_SCORE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("custom_reward_fn", sys.argv[1])  # as EasyR1 loads it
module = importlib.util.module_from_spec(spec)
sys.modules["custom_reward_fn"] = module
spec.loader.exec_module(module)
assert module.REWARD_TYPE == "batch"
inputs = json.load(sys.stdin)
print(json.dumps(module.compute_score(inputs, accuracy_weight=0.9, format_weight=0.1)))
"""


@pytest.mark.parametrize("math_verify", [True, False], ids=["math-verify", "mathruler"])
def test_reward_py_stands_alone_and_scores_as_seethink(tmp_path: Path, math_verify: bool):
    from seethink.rewards import build_reward

    src = write_toy_items("text", 2, "train", 0, tmp_path / "t.jsonl")
    out = tmp_path / "o"
    export_easyr1(src, out, gpus=1)
    assert (out / VENDOR_PKG / "__init__.py").is_file()
    moved = tmp_path / "elsewhere" / "export"  # the folder stands alone
    shutil.copytree(out, moved)
    shutil.rmtree(out)
    cases = _RESPONSES + [(r"<think>x</think> \boxed{7}", {"answer": "7"}), _SYMBOLIC]
    inputs = [{"response": r, "response_length": len(r), "ground_truth": json.dumps(it)} for r, it in cases]
    inputs[len(_RESPONSES)]["ground_truth"] = "7"  # a plain answer field is read too
    args = [sys.executable, "-c", _SCORE, str(moved / REWARD_FILE)]
    # No process the reward starts may import seethink either (EasyR1's environment has none): a
    # `seethink` that refuses to import comes first on the path, for worker processes too.
    # Without math-verify, likewise in every process.
    blocker = tmp_path / "blocker"
    for name in ["seethink"] + ([] if math_verify else ["math_verify"]):
        (blocker / name).mkdir(parents=True)
        (blocker / name / "__init__.py").write_text(f"raise ImportError('no {name} here')\n")
    proc = subprocess.run(args, input=json.dumps(inputs), capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(blocker)})
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    reward = build_reward(0.9, 0.1)
    try:
        want = [reward(r, it) for r, it in cases]
    finally:
        reward.close()
    for g, w, inp in zip(got, want, inputs, strict=True):
        assert g["accuracy"] == w["accuracy"] and g["format"] == w["format"], inp
        assert g["overall"] == pytest.approx(w["overall"]), inp
    # Every right, well-formed answer earns full reward: the letter, `B.`, `(B)`, the option's text, math.
    assert [g["overall"] for g in got[:8]] == pytest.approx([1.0, 1.0, 1.0, 1.0, 0.1, 1.0, 1.0, 1.0])
    assert [g["accuracy"] for g in got[8:13]] == [1.0, 0.0, 1.0, 0.0, 1.0]
    assert got[-1]["accuracy"] == 1.0  # 2 sqrt 2 = sqrt 8: math-verify, or mathruler in its place


def test_run_script_passes_the_folders_own_paths(tmp_path: Path):
    src = write_toy_items("text", 2, "train", 0, tmp_path / "t.jsonl")
    export_easyr1(src, tmp_path / "o", gpus=1, model_path="/models/m")
    moved = tmp_path / "moved"
    shutil.copytree(tmp_path / "o", moved)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python3").write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    (fake / "python3").chmod(0o755)
    proc = subprocess.run(["sh", str(moved / "run.sh"), "trainer.total_epochs=2"], capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    args = proc.stdout.splitlines()
    assert args[:2] == ["-m", "verl.trainer.main"] and args[-1] == "trainer.total_epochs=2"
    assert f"config={moved}/easyr1_config.yaml" in args and f"data.train_files={moved}/train.jsonl" in args
    assert f"worker.reward.reward_function={moved}/reward.py:compute_score" in args
    assert "worker.actor.model.model_path=/models/m" in args and f"data.image_dir={moved}" in args


def test_format_prompt_and_errors(tmp_path: Path):
    assert "{{ content | trim }}" in format_prompt_jinja() and "{options}" not in format_prompt_jinja()
    write_jsonl(tmp_path / "x.jsonl", [{"id": "a", "question": "q", "answer": "1", "images": ["gone.png"]}])
    with pytest.raises(UserError, match=r"x\.jsonl, row 1, field 'images': image not found"):
        export_easyr1(tmp_path / "x.jsonl", tmp_path / "o", gpus=1)
    with pytest.raises(UserError, match="group-size"):
        export_easyr1(tmp_path / "x.jsonl", tmp_path / "o", group_size=1)


def test_scene_items_without_files_are_rendered(tmp_path: Path):
    items = generate_items("visual", 2, "train", 0)
    write_jsonl(tmp_path / "v.jsonl", items)
    export_easyr1(tmp_path / "v.jsonl", tmp_path / "o1", gpus=1)
    rows = read_jsonl(tmp_path / "o1" / "train.jsonl")
    assert rows[0]["images"] == [f"images/{items[0]['id']}.png"] and (tmp_path / "o1" / rows[0]["images"][0]).is_file()


def test_cli_export(tmp_path: Path):
    src = write_toy_items("perception", 4, "train", 0, tmp_path / "p.jsonl")
    app, data = typer.Typer(), typer.Typer()
    app.add_typer(data, name="data")
    register(data)
    r = CliRunner().invoke(app, ["data", "export-easyr1", "--input", str(src), "--out", str(tmp_path / "e"),
                                 "--group-size", "4", "--lr", "3e-6", "--kl", "0", "--gpus", "2", "--clip", "0.15",
                                 "--max-prompt-length", "4096", "--freeze-vision"])
    assert r.exit_code == 0, r.output
    cfg = _config(tmp_path / "e")
    assert cfg["worker"]["rollout"]["n"] == 4 and cfg["algorithm"]["kl_coef"] == 0
    assert cfg["trainer"]["n_gpus_per_node"] == 2 and cfg["worker"]["actor"]["clip_ratio_high"] == 0.15
    assert cfg["data"]["max_prompt_length"] == 4096 and cfg["worker"]["actor"]["model"]["freeze_vision_tower"] is True
    r = CliRunner().invoke(app, ["data", "export-easyr1", "--input", str(src), "--out", str(tmp_path / "f"),
                                 "--gpus", "16"])
    assert r.exit_code != 0 and "too few for EasyR1" in str(r.exception)


# ---------------------------------------------------------------- EasyR1's own code

# Runs in EasyR1's environment: its config merge onto PPOConfig (as verl.trainer.main does), its
# RLHFDataset and data loader on the export, its reward manager loading reward.py, and its
# trainer's batch checks (RayPPOTrainer.__init__, before any worker starts).
_EASYR1_CHECK = textwrap.dedent('''
    import json, sys
    from omegaconf import OmegaConf
    from verl.trainer.config import PPOConfig
    export, model = sys.argv[1], sys.argv[2]
    default = OmegaConf.structured(PPOConfig())
    cfg = OmegaConf.merge(default, OmegaConf.load(export + "/easyr1_config.yaml"))
    cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(["worker.actor.model.model_path=" + model,
                                                       "data.filter_overlong_prompts_workers=1"]))
    cfg = OmegaConf.to_object(cfg)
    cfg.deep_post_init()
    from verl.utils.tokenizer import get_processor, get_tokenizer
    kw = dict(override_chat_template=cfg.data.override_chat_template,
              trust_remote_code=cfg.worker.actor.model.trust_remote_code, use_fast=True)
    tokenizer, processor = get_tokenizer(model, **kw), get_processor(model, **kw)
    from verl.trainer.data_loader import create_dataloader
    train, val = create_dataloader(cfg.data, tokenizer, processor)
    batch = next(iter(train))
    rows = [json.loads(line) for line in open(cfg.data.train_files)]
    from verl.workers.reward import AutoRewardManager
    manager = AutoRewardManager(cfg.worker.reward, tokenizer)
    inputs = []
    for row in rows:
        gt = json.loads(row["ground_truth"])
        answers = [gt["answer"]]
        if gt.get("options"):
            i = ord(gt["answer"]) - ord("A")
            answers += [gt["answer"] + ".", gt["options"][i]]
        for a in answers:
            inputs.append({"response": "<think>so</think> \\\\boxed{" + a + "}", "response_length": 8,
                           "ground_truth": row["ground_truth"]})
    scores = manager.reward_fn(inputs)
    from verl.trainer.ray_trainer import RayPPOTrainer
    RayPPOTrainer(config=cfg, tokenizer=tokenizer, processor=processor, train_dataloader=train,
                  val_dataloader=val, role_worker_mapping={}, resource_pool_manager=None)
    print(json.dumps({"rows": len(rows), "kept": len(train.dataset), "batches": len(train),
                      "batch_rows": len(batch["input_ids"]), "scores": [s["overall"] for s in scores]}))
''')


def _easyr1_python() -> str:
    env = os.environ.get("SEETHINK_EASYR1_PYTHON", "")
    if env:
        return env
    import importlib.util

    if importlib.util.find_spec("verl") is not None:
        return sys.executable
    pytest.skip("EasyR1 is not installed here: it needs vllm, flash-attn and transformers<5 (seethink needs "
                "transformers 5), so it lives in its own environment. Set SEETHINK_EASYR1_PYTHON to that "
                "environment's python (and SEETHINK_EASYR1_MODEL to a model directory its transformers loads) "
                "to run EasyR1's dataset, config merge, reward loading and batch checks on an export")


def test_easyr1_starts_on_an_export(tmp_path: Path, request: pytest.FixtureRequest):
    python = _easyr1_python()
    model = os.environ.get("SEETHINK_EASYR1_MODEL") or str(request.getfixturevalue("tiny_model_dir"))
    items = generate_items("perception", 10, "train", 0) + generate_items("text", 6, "train", 0)
    write_jsonl(tmp_path / "mix.jsonl", items)
    write_toy_items("visual", 4, "test", 0, tmp_path / "val.jsonl")
    out = tmp_path / "export"
    info = export_easyr1(tmp_path / "mix.jsonl", out, val_path=tmp_path / "val.jsonl", gpus=2)
    proc = subprocess.run([python, "-c", _EASYR1_CHECK, str(out), model], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["rows"] == got["kept"] == 16  # every row loads; none dropped as too long
    assert got["batches"] >= 1 and got["batch_rows"] == info["rollout_batch_size"]
    assert got["scores"] and all(s == pytest.approx(1.0) for s in got["scores"])  # every right answer: full
