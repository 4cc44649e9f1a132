"""Paired deltas and their two-level bootstrap interval."""

from __future__ import annotations

import pytest

from seethink.eval.stats import bootstrap_ci, paired_deltas


def test_paired_deltas_use_shared_items_only():
    assert paired_deltas({"a": 0.0, "b": 1.0, "c": 0.5}, {"a": 1.0, "b": 1.0, "d": 0.0}) == {"a": 1.0, "b": 0.0}


def test_constant_improvement_has_a_degenerate_interval():
    runs = [{str(i): 1.0 for i in range(50)}] * 3
    ci = bootstrap_ci(runs, n_boot=200)
    assert ci["delta"] == ci["ci_low"] == ci["ci_high"] == 100.0
    assert ci["runs"] == 3 and ci["items"] == 50


def test_noise_interval_covers_zero_and_a_real_gain_excludes_it():
    noise = [{str(i): (1.0 if (i * 7 + s) % 2 else -1.0) for i in range(200)} for s in range(3)]
    ci = bootstrap_ci(noise, n_boot=500)
    assert ci["ci_low"] < 0 < ci["ci_high"]
    # 30% of items gain a point, 10% lose one: +20 points, well clear of zero at 200 items.
    gain = [{str(i): (1.0 if i % 10 < 3 else -1.0 if i % 10 == 9 else 0.0) for i in range(200)}] * 3
    ci = bootstrap_ci(gain, n_boot=500)
    assert ci["delta"] == pytest.approx(20.0)
    assert ci["ci_low"] > 0 and ci["ci_low"] <= ci["delta"] <= ci["ci_high"]
    assert bootstrap_ci(gain, n_boot=500) == ci  # seeded: the same interval every time


def test_seed_variation_widens_the_interval():
    same = [{str(i): (1.0 if i % 4 == 0 else 0.0) for i in range(100)}] * 3
    spread = [{str(i): (1.0 if i % 4 == 0 else 0.0) + d for i in range(100)} for d in (-0.2, 0.0, 0.2)]
    a, b = bootstrap_ci(same, n_boot=500), bootstrap_ci(spread, n_boot=500)
    assert a["delta"] == pytest.approx(b["delta"])
    assert b["ci_high"] - b["ci_low"] > a["ci_high"] - a["ci_low"]


def test_empty_input_is_refused():
    with pytest.raises(ValueError):
        bootstrap_ci([])
    with pytest.raises(ValueError):
        bootstrap_ci([{"a": 1.0}, {"b": 1.0}])
