"""The claims table on a hand-made results set: verdicts follow the printed rule."""

from __future__ import annotations

import json
import random
from pathlib import Path

import yaml

from seethink.experiment.claims import claims
from seethink.experiment.report import write_experiment_report
from seethink.experiment.results import load_study

CAPS = ("perception", "text", "visual")


def _write_unit(exp: Path, arm: str, seed: int | None, p_right: dict[str, float], tokens: int, rng: random.Random):
    udir = exp / "units" / arm if seed is None else exp / "units" / arm / f"seed-{seed}"
    (udir / "eval").mkdir(parents=True)
    rows = []
    for cap in CAPS:
        for i in range(200):
            ok = rng.random() < p_right[cap]
            rows.append({"id": f"{cap}-{i}", "capability": cap, "answer": "1", "response": "x", "correct": ok,
                         "sampled_correct": float(ok), "format": 1.0, "response_tokens": tokens + rng.randint(-3, 3),
                         "think_tokens": tokens - 10})
    (udir / "eval" / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = [{"stage": "merged" if arm.startswith("merged") else "visual", "kind": "grpo", "steps": 6, "items": 8,
             "capabilities": ["visual"], "learning_rate": 1e-5, "beta": 0.01, "freeze_vision": False,
             "shuffle": True, "lora_r": 0, "trained_params": 1000}]
    (udir / "unit.json").write_text(json.dumps({"arm": arm, "seed": seed, "stages": plan, "total_steps": 6}))


def make_study(tmp_path: Path) -> Path:
    """staged far above merged (claim 1 holds), reversed far below staged (claim 3 fails), staged
    writes 30% shorter responses (claim 2 holds), text_visual equal (unclear)."""
    exp = tmp_path / "exp"
    rng = random.Random(0)
    arms = {"merged": (0.5, 40), "staged": (0.8, 28), "reversed": (0.95, 28), "text_visual": (0.8, 28)}
    cfg = {"name": "hand", "experiment": {"arms": list(arms), "seeds": [0, 1, 2]},
           "stages": [{"name": c, "tasks": []} for c in CAPS]}
    exp.mkdir()
    (exp / "experiment.yaml").write_text(yaml.safe_dump(cfg))
    _write_unit(exp, "base", None, dict.fromkeys(CAPS, 0.4), 40, rng)
    for seed in (0, 1, 2):
        for arm, (p, tokens) in arms.items():
            _write_unit(exp, arm, seed, dict.fromkeys(CAPS, p), tokens, rng)
    return exp


def test_verdicts_follow_the_rule(tmp_path: Path):
    rows = {(c.label, c.capability): c for c in claims(load_study([make_study(tmp_path)]))}
    assert rows[("staged beats merged", "overall")].verdict == "yes"
    s = rows[("staged beats merged", "overall")].stat
    assert 25 < s["delta"] < 35 and s["p"] < 0.01 and s["runs"] == 3 and s["items"] == 600
    assert rows[("staged writes shorter responses than merged", "overall")].verdict == "yes"
    assert -35 < rows[("staged writes shorter responses than merged", "overall")].stat["delta"] < -25
    assert rows[("perception first beats the reverse order (1-2-3 vs 3-2-1)", "overall")].verdict == "no"
    assert rows[("a perception stage helps (1-2-3 vs 2-3)", "overall")].verdict == "unclear"
    assert rows[("perception first beats text first (1-2-3 vs 2-1-3)", "overall")].verdict == "not measured"
    assert rows[("perception first beats text first (1-2-3 vs 2-1-3)", "overall")].missing == ["text_first"]


def test_a_study_run_in_parts_pools_into_one_report(tmp_path: Path):
    """Seeds 0-1 in one directory, seed 2 in another: the pooled claims use all three seeds."""
    import shutil

    full = make_study(tmp_path)
    part = tmp_path / "part"
    shutil.copytree(full, part)
    for arm in ("merged", "staged", "reversed", "text_visual"):
        shutil.rmtree(full / "units" / arm / "seed-2")
        for s in (0, 1):
            shutil.rmtree(part / "units" / arm / f"seed-{s}")
    rows = {(c.label, c.capability): c for c in claims(load_study([full, part]))}
    assert rows[("staged beats merged", "overall")].stat["runs"] == 3
    md, page = write_experiment_report([full, part], out=tmp_path / "pooled")
    text = md.read_text()
    assert text.index("## Claims") < text.index("## Arms x capabilities") and "| 1 | staged beats merged |" in text
    assert page.read_text().count("data:image/png;base64,") >= 4
