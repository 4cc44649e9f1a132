"""Faults and bad input: each gives a clear message naming its cause and loses no finished work.

Covered here: a NaN loss and a full disk in the middle of a run (the finished stage survives and
the run resumes), corrupt / missing images in stage data and benchmarks (caught before any
training or generation), datasets emptied by a filter, unwritable output folders, failed writes
of our own files, and out-of-range config values. Reward functions that raise or hang are in
tests/rewards/test_guard.py; property tests on parsers and rewards in tests/rewards/test_properties.py.
"""

from __future__ import annotations

import errno
import json
import math
import os
from pathlib import Path

import pytest
from PIL import Image

from seethink.config import load_recipe
from seethink.errors import UserError
from seethink.utils import append_jsonl, atomic_write_text, read_jsonl, write_jsonl


def _png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (56, 56), "white").save(path)
    return path


def _data_file(folder: Path, n: int = 4, bad_row: int | None = None, missing_row: int | None = None) -> Path:
    rows = []
    for i in range(1, n + 1):
        img = _png(folder / "img" / f"{i}.png")
        if i == bad_row:
            img.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
        name = f"img/{i}.png" if i != missing_row else "img/gone.png"
        rows.append({"question": f"How many shapes? ({i})", "answer": str(i), "images": [name],
                     "capability": "perception"})
    path = folder / "stage.jsonl"
    write_jsonl(path, rows)
    return path


# ------------------------------------------------------------------ a stage breaks mid-run


def _two_stage_recipe(tmp_path: Path, model_dir: Path) -> Path:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: faults\n"
        f"model: {{path: {model_dir}}}\n"
        "variants: [staged]\n"
        "trainer: {max_steps: 1, batch_size: 2, group_size: 2, max_completion_length: 4, beta: 0.0}\n"
        "stages:\n"
        "  - {name: a, tasks: [toy_text], items_per_task: 2}\n"
        "  - {name: b, tasks: [toy_text], items_per_task: 2}\n"
        "eval: {items_per_capability: 2, max_new_tokens: 4, ablation: false}\n"
    )
    return recipe


@pytest.mark.slow
def test_nan_loss_and_full_disk_keep_finished_stages(cli, tiny_model_dir: Path, tmp_path: Path, monkeypatch):
    """Stage b first hits a full disk while saving, then a NaN loss; stage a is trained once and kept."""
    import trl

    import seethink.training.stage as stage_mod

    recipe, run = _two_stage_recipe(tmp_path, tiny_model_dir), tmp_path / "run"
    real_run_stage, real_loss = stage_mod.run_stage, trl.GRPOTrainer.compute_loss
    fault = {"b": "disk"}
    trained: list[str] = []

    def run_stage(*args, stage: str, **kwargs):
        trained.append(stage)
        if fault.get(stage) == "disk":
            def save_model(self, *a, **k):
                raise OSError(errno.ENOSPC, "No space left on device")

            monkeypatch.setattr(trl.GRPOTrainer, "save_model", save_model)
        elif fault.get(stage) == "nan":
            monkeypatch.setattr(trl.GRPOTrainer, "compute_loss",
                                lambda self, *a, **k: real_loss(self, *a, **k) * math.nan)
        return real_run_stage(*args, stage=stage, **kwargs)

    monkeypatch.setattr(stage_mod, "run_stage", run_stage)
    done_a = run / "stages" / "staged" / "01-a" / "done.json"

    code, _, err = cli(["run", str(recipe), "--out", str(run)])
    assert code == 2 and trained == ["a", "b"]
    assert "error: cannot write" in err and "02-b/checkpoint" in err and "no space left" in err
    assert done_a.is_file() and not (run / "stages" / "staged" / "02-b" / "done.json").exists()
    ckpt = done_a.parent / "checkpoint"
    assert (ckpt / "model.safetensors").is_file()  # checkpoints are safetensors, never pickles
    assert not [p for p in ckpt.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl")]
    marker = done_a.read_text()

    monkeypatch.undo()
    monkeypatch.setattr(stage_mod, "run_stage", run_stage)
    fault["b"] = "nan"
    code, _, err = cli(["run", str(recipe), "--out", str(run)])
    assert code == 2 and trained == ["a", "b", "b"]  # a was not trained again
    line = next(ln for ln in err.splitlines() if ln.startswith("error:"))
    assert "stage 'b' (staged) diverged" in line and "at step 1" in line and "learning_rate" in line
    assert done_a.read_text() == marker and (ckpt / "model.safetensors").is_file()
    assert not (run / "stages" / "staged" / "02-b" / "checkpoint").exists()
    rows = read_jsonl(run / "metrics.jsonl")
    assert {r["stage"] for r in rows} == {"a", "b"}
    assert all(r["reward_errors"] == 0 and r["reward_timeouts"] == 0 for r in rows)


def test_the_divergence_guard_stops_at_the_first_non_finite_log():
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from seethink.training.callbacks import StopOnNonFinite, TrainingDiverged

    guard = StopOnNonFinite("text", "merged")
    state, control = TrainerState(), TrainerControl()
    args = TrainingArguments(output_dir="unused", learning_rate=3e-4, report_to=[])
    state.global_step = 6
    guard.on_log(args, state, control, logs={"loss": 0.3, "grad_norm": 1.0})
    assert not control.should_training_stop
    state.global_step = 7
    guard.on_log(args, state, control, logs={"loss": 0.2, "grad_norm": math.inf})
    assert control.should_training_stop
    with pytest.raises(TrainingDiverged, match=r"stage 'text' \(merged\) diverged: grad_norm is inf at step 7"):
        guard.raise_if_diverged()


def test_reward_fault_counts_go_into_the_logs():
    from seethink.rewards.guard import RewardFaults
    from seethink.training.callbacks import RewardFaultsToLogs

    faults = RewardFaults()
    cb = RewardFaultsToLogs(faults)
    faults.error("mine", "ValueError: x")
    faults.timeout("mine")
    faults.timeout("mine")
    logs: dict = {"loss": 0.1}
    cb.on_log(None, None, None, logs=logs)
    assert logs["reward_errors"] == 1 and logs["reward_timeouts"] == 2
    cb.on_log(None, None, None, logs=logs)
    assert logs["reward_errors"] == 0 and logs["reward_timeouts"] == 0  # counts per logging interval


# ------------------------------------------------------------------ images, checked at load time


@pytest.mark.parametrize("fault, message", [("bad_row", "row 3, field 'images': unreadable image"),
                                            ("missing_row", "row 2, field 'images': image not found")])
def test_a_bad_image_in_a_later_stage_fails_before_any_training(cli, tiny_model_dir, tmp_path, fault, message):
    good = _data_file(tmp_path / "good")
    bad = _data_file(tmp_path / "bad", **{fault: 3 if fault == "bad_row" else 2})
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"name: img\nmodel: {{path: {tiny_model_dir}}}\nvariants: [staged]\n"
        f"stages:\n  - {{name: one, data: {good}}}\n  - {{name: two, data: {bad}}}\n"
    )
    run = tmp_path / "run"
    code, _, err = cli(["run", str(recipe), "--out", str(run)])
    assert code == 2
    assert f"error: {bad}, {message}" in err
    assert not (run / "stages").exists()


def test_a_corrupt_benchmark_image_fails_before_the_model_loads(tmp_path: Path):
    from seethink.eval.bench_run import evaluate_benchmarks

    root = tmp_path / "mathvision"
    rows = []
    for i in (1, 2):
        _png(root / "images" / f"{i}.png")
        rows.append({"id": str(i), "question": "q", "options": [], "answer": "1", "level": 1,
                     "subject": "counting", "image": f"images/{i}.png"})
    write_jsonl(root / "testmini.jsonl", rows)
    (root / "images" / "2.png").write_bytes(b"garbage")
    with pytest.raises(UserError, match=r"mathvision: item 2, field 'images': unreadable image .*2.png"):
        evaluate_benchmarks(None, ["mathvision"], data_root=tmp_path, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ empty after filtering


def test_an_empty_stage_file_is_named(tmp_path: Path):
    from seethink.data.plan import data_file_items

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(UserError, match="empty.jsonl holds no items"):
        data_file_items(empty)


def test_prompt_length_filter_leaving_nothing_names_stage_and_filter(tiny_model_dir: Path):
    from seethink.config import ToyWorldSpec
    from seethink.data.tasks import get_task
    from seethink.models.load import load_processor
    from seethink.training.stage import drop_long_prompts

    items = get_task("toy_text").generate(3, "train", 0, ToyWorldSpec())
    with pytest.raises(UserError, match=r"stage 'text': no training items left after the prompt-length filter: "
                                        r"all 3 prompts exceed trainer.max_prompt_length=2"):
        drop_long_prompts(items, load_processor(tiny_model_dir), 2, log=lambda _: None, stage="text")


def test_curriculum_filter_leaving_a_stage_empty_names_stage_and_filter(tmp_path: Path):
    from seethink.data.curriculum import build_curriculum

    inputs = {}
    for cap, rates in (("perception", [0.5, 0.25]), ("text", [1.0, 1.0])):
        path = tmp_path / f"{cap}.jsonl"
        write_jsonl(path, [{"id": f"{cap}{i}", "question": "q", "answer": "1", "pass_rate": r}
                           for i, r in enumerate(rates)])
        inputs[cap] = path
    with pytest.raises(UserError, match=r"curriculum stage 2 \(text=.*text.jsonl\): no items left after the "
                                        r"drop_solved filter \(all 2 were dropped\)"):
        build_curriculum(inputs, "capability", tmp_path / "out", drop_solved=True)
    assert not (tmp_path / "out").exists()  # nothing half-written


# ------------------------------------------------------------------ disks


def test_unwritable_output_folder_fails_up_front(cli, tmp_path: Path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, _, err = cli(["run", "smoke", "--out", str(blocker / "run")])
    assert code == 2 and f"output directory {blocker / 'run'} cannot be created" in err

    import seethink.storage as storage

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(storage.tempfile, "mkstemp", denied)
    code, _, err = cli(["eval", "--model", "toy", "--out", str(tmp_path / "ro")])
    assert code == 2 and f"output directory {tmp_path / 'ro'} is not writable: permission denied" in err


def _disk_fills_after(monkeypatch, n: int) -> None:
    """os.write writes the first n bytes of a longer write, then the disk is full."""
    real_write = os.write

    def half_then_full(fd, data):
        if len(data) > n:
            return real_write(fd, bytes(data[:n]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)


def test_full_disk_while_appending_leaves_no_torn_line(tmp_path: Path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    append_jsonl(path, {"step": 1})
    before = path.read_bytes()
    _disk_fills_after(monkeypatch, 4)
    with pytest.raises(UserError, match=rf"cannot write {path}: no space left on the device.*re-run"):
        append_jsonl(path, {"step": 2, "reward": 0.5})
    monkeypatch.undo()
    assert path.read_bytes() == before
    append_jsonl(path, {"step": 2})
    assert [r["step"] for r in read_jsonl(path)] == [1, 2]


def test_full_disk_while_appending_benchmark_responses_rolls_back_the_batch(tmp_path: Path, monkeypatch):
    """Benchmark responses are appended a batch at a time: a failed write takes none of the batch."""
    from seethink.eval.bench_files import append_rows, read_responses

    path = tmp_path / "mathvision" / "responses.jsonl"
    append_rows(path, [{"id": "a", "response": "x"}])
    before = path.read_bytes()
    _disk_fills_after(monkeypatch, 10)
    with pytest.raises(UserError, match="no space left"):
        append_rows(path, [{"id": "b", "response": "é"}, {"id": "c", "response": "z"}])
    monkeypatch.undo()
    assert path.read_bytes() == before
    append_rows(path, [{"id": "b", "response": "é"}])
    assert read_responses(path) == {"a": "x", "b": "é"}
    assert "é" in path.read_text(encoding="utf-8")  # written as text, as before


def test_full_disk_while_rewriting_keeps_the_old_file(tmp_path: Path, monkeypatch):
    path = tmp_path / "summary.json"
    atomic_write_text(path, '{"old": true}\n')
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: Full(real_fdopen(fd, *a, **k)))
    with pytest.raises(UserError, match=rf"cannot write {path}: no space left"):
        atomic_write_text(path, '{"new": true}\n')
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temp file left behind


def test_a_library_reporting_a_full_disk_is_named(tmp_path: Path):
    from seethink.storage import disk_errors

    class SafetensorError(Exception):
        pass

    with pytest.raises(UserError, match="cannot write .*ckpt: no space left"):
        with disk_errors(tmp_path / "ckpt"):
            raise SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull })")
    with pytest.raises(ValueError):  # anything else passes through untouched
        with disk_errors(tmp_path / "ckpt"):
            raise ValueError("not a disk problem")


# ------------------------------------------------------------------ config values


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.learning_rate=2", "'trainer.learning_rate': must be (0, 1), got 2"),
        ("trainer.learning_rate=.nan", "'trainer.learning_rate': must be a finite number, got nan"),
        ("trainer.beta=-0.1", "'trainer.beta': must be >= 0, got -0.1"),
        ("trainer.beta=.inf", "'trainer.beta': must be a finite number, got inf"),
        ("trainer.temperature=0", "'trainer.temperature': must be (0, 5], got 0"),
        ("trainer.top_p=1.5", "'trainer.top_p': must be (0, 1], got 1.5"),
        ("trainer.top_p=0", "'trainer.top_p': must be (0, 1], got 0"),
        ("trainer.max_steps=-3", "'trainer.max_steps': must be >= 0, got -3"),
        ("trainer.warmup_ratio=1", "'trainer.warmup_ratio': must be [0, 1), got 1"),
        ("trainer.max_completion_length=0", "'trainer.max_completion_length': must be >= 1, got 0"),
        ("trainer.max_prompt_length=0", "'trainer.max_prompt_length': must be >= 1, got 0"),
        ("trainer.lr_scheduler=cosin", "'trainer.lr_scheduler': must be one of constant"),
        ("stages.1.trainer.group_size=1", "'stages.1.trainer.group_size': GRPO needs at least 2"),
        ("stages.0.name=../x", "'stages.0.name': '../x' cannot name a folder"),
        ("reward.timeout_s=0", "'reward.timeout_s': must be (0, 3600], got 0"),
        ("reward.format_weight=.nan", "'reward.format_weight': must be a finite number, got nan"),
        ('reward.extra=["a.py:"]', "'reward.extra.0': 'a.py:' names no function"),
        ("eval.max_new_tokens=0", "'eval.max_new_tokens': must be >= 1, got 0"),
        ("seed=-1", "'seed': must be >= 0, got -1"),
        ("toy.text_steps_max=1", "'toy.text_steps_max': must be >= text_steps_min (2), got 1"),
        ("warmstart.sft_lr=0", "'warmstart.sft_lr': must be > 0, got 0"),
        ("toy_model.num_heads=3", "'toy_model.num_heads': hidden_size must be a multiple of num_heads"),
    ],
)
def test_out_of_range_config_values_name_key_and_range(override: str, message: str):
    with pytest.raises(UserError) as exc:
        load_recipe(None, [override])
    assert message in str(exc.value)


def test_all_zero_reward_weights_are_refused_for_grpo():
    with pytest.raises(UserError, match="every reward weight is 0"):
        load_recipe(None, ["reward.accuracy_weight=0", "reward.format_weight=0"])
