"""Study statistics on thousands of simulated studies at the study's own design (3 seeds x 400 items,
1,200 pooled): interval coverage, p-values under no effect, power, and the edge cases.

Every simulation is one numpy array with a leading study axis, fed to the same vectorised core that
`contrast` uses with a batch of one, so the checks take a fraction of a second each.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from seethink.eval.stats import (
    _t_crit,
    _t_tail,
    contrast,
    crossed_t,
    interaction,
    log_ratio_t,
    mean_ci,
    relative_change,
    share_ci,
    share_t,
)

SEEDS, ITEMS, POOLED = 3, 400, 1200
STUDIES = 3000  # per setting; 2,000 at the pooled 1,200 items (coverage then within +-1% at 2 sd)
POOLED_STUDIES = 2000


def crossed(rng, n, items, effect, seed_sd, item_sd, noise_sd, seeds=SEEDS):
    """Gaussian crossed model: effect + seed effect + item effect + noise, (n, seeds, items)."""
    return (effect + rng.normal(0, seed_sd, (n, seeds, 1)) + rng.normal(0, item_sd, (n, 1, items))
            + rng.normal(0, noise_sd, (n, seeds, items)))


def greedy(rng, n, items, gain_a, gain_b=None, seed_spread=0.03, seeds=SEEDS):
    """0/1 greedy-like scores, A minus B, (n, seeds, items).

    Each item has a base solve probability q ~ Beta(0.1, 0.1) (most items nearly always or never
    solved, as greedy answers are); an arm with gain g solves it with 1 - (1 - q)(1 - g) c_s, where
    the seed factor c_s ~ U(1 - spread, 1 + spread) has mean 1. E[1 - q] = 1/2, so the true mean
    difference is (gain_a - gain_b) / 2. gain_b None: B is the base, drawn once and reused by all seeds.
    """
    q = rng.beta(0.1, 0.1, (n, 1, items))

    def arm(gain):
        c = 1 + rng.uniform(-seed_spread, seed_spread, (n, seeds, 1))
        return (rng.random((n, seeds, items)) < 1 - (1 - q) * (1 - gain) * c).astype(float)

    base = np.broadcast_to((rng.random((n, 1, items)) < q).astype(float), (n, seeds, items))
    return arm(gain_a) - (base if gain_b is None else arm(gain_b))


def covered(res, truth):
    return float(np.mean((res["ci_low"] <= truth) & (truth <= res["ci_high"])))


def binned_chi2(p, bins=10):
    """Pearson chi-square of the p-values against U(0, 1) over equal bins (bins - 1 df)."""
    counts = np.histogram(p, bins=bins, range=(0.0, 1.0))[0]
    expected = p.size / bins
    return float(((counts - expected) ** 2 / expected).sum())


def ks_uniform(p):
    """Kolmogorov-Smirnov distance of the p-values from U(0, 1)."""
    p = np.sort(p)
    n = p.size
    return float(max(np.max(np.arange(1, n + 1) / n - p), np.max(p - np.arange(n) / n)))


SETTINGS = {
    # name: (simulator, true difference); seed sd in points on the per-seed mean, item sd per item
    "seed sd 0.8 pt, 400 items": (lambda r, n: crossed(r, n, ITEMS, 0.03, 0.008, 0.35, 0.1), 0.03),
    "seed sd 0, 400 items": (lambda r, n: crossed(r, n, ITEMS, 0.03, 0.0, 0.35, 0.1), 0.03),
    "seed sd 0.8 pt, 1,200 items": (lambda r, n: crossed(r, n * 2 // 3, POOLED, 0.03, 0.008, 0.35, 0.1), 0.03),
    "seeds dominate (3 pt)": (lambda r, n: crossed(r, n, ITEMS, 0.03, 0.03, 0.2, 0.1), 0.03),
    "noise only (arms alike)": (lambda r, n: crossed(r, n, ITEMS, 0.0, 0.0, 0.0, 0.3), 0.0),
    "0/1 greedy vs base": (lambda r, n: greedy(r, n, ITEMS, 0.06), 0.03),
    "0/1 greedy arm vs arm": (lambda r, n: greedy(r, n, ITEMS, 0.08, 0.02), 0.03),
}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_interval_coverage_is_95_percent_at_the_study_design(name):
    simulate, truth = SETTINGS[name]
    rng = np.random.default_rng(sorted(SETTINGS).index(name))
    res = crossed_t(simulate(rng, STUDIES))
    cov = covered(res, truth)
    print(f"{name}: coverage {cov:.3f}")
    assert 0.93 <= cov <= 0.97, f"{name}: coverage {cov:.3f}"


@pytest.mark.parametrize("name", ["seed sd 0.8 pt, 400 items", "0/1 greedy vs base", "noise only (arms alike)"])
def test_p_values_are_uniform_under_no_effect(name):
    simulate, truth = SETTINGS[name]
    rng = np.random.default_rng(100 + sorted(SETTINGS).index(name))
    tables = simulate(rng, STUDIES) - truth if name != "0/1 greedy vs base" else greedy(rng, STUDIES, ITEMS, 0.0)
    p = crossed_t(tables)["p"]
    fpr, chi2 = float(np.mean(p < 0.05)), binned_chi2(p)
    print(f"{name}: false positives at 0.05 {fpr:.3f}, chi-square (9 df) {chi2:.1f}, KS {ks_uniform(p):.4f}")
    assert 0.03 <= fpr <= 0.07
    # ten equal bins; alpha = 0.001 leaves room for the mild conservatism the method has where seeds
    # and items both matter (coverage up to 96%, false positives down to 4%), not for more
    assert chi2 < 27.88
    if name != "0/1 greedy vs base":  # 0/1 data put an atom at p = 1 (sum exactly 0), which KS punishes
        assert ks_uniform(p) < 1.63 / math.sqrt(p.size)  # KS at alpha = 0.01


def test_a_three_point_gain_is_found_on_the_pooled_items():
    rng = np.random.default_rng(7)
    res = crossed_t(crossed(rng, POOLED_STUDIES, POOLED, 0.03, 0.008, 0.3, 0.1))
    power = float(np.mean(res["p"] < 0.05))
    print(f"3-point gain, 3 x 1,200 items: power {power:.3f}, median p {np.median(res['p']):.4f}")
    assert np.median(res["p"]) < 0.05 and power > 0.65
    # the reported minimum detectable effect means what it says: at that effect, ~80% power
    mde = float(np.median(res["mde"]))
    at_mde = crossed_t(crossed(rng, POOLED_STUDIES, POOLED, mde, 0.008, 0.3, 0.1))
    assert 0.65 <= np.mean(at_mde["p"] < 0.05) <= 0.9  # a plug-in estimate: roughly 80%
    greedy_p = crossed_t(greedy(rng, POOLED_STUDIES, POOLED, 0.06))["p"]
    print(f"3-point gain, 0/1 greedy vs base: power {np.mean(greedy_p < 0.05):.3f}")
    assert np.median(greedy_p) < 0.05 and np.mean(greedy_p < 0.05) > 0.6


def test_mean_accuracy_interval_covers():
    rng = np.random.default_rng(8)
    q = rng.beta(0.1, 0.1, (STUDIES, 1, ITEMS))
    c = 1 + rng.uniform(-0.05, 0.05, (STUDIES, SEEDS, 1))
    scores = (rng.random((STUDIES, SEEDS, ITEMS)) < 1 - (1 - q) * 0.9 * c).astype(float)
    assert 0.93 <= covered(crossed_t(scores), 1 - 0.5 * 0.9) <= 0.97


@pytest.mark.parametrize("base_shared", [True, False])
def test_relative_change_interval_covers_and_its_p_values_hold(base_shared):
    """Response lengths: item length L_i, times mean-one seed, item and noise factors; +10% after."""
    rng = np.random.default_rng(9 + base_shared)
    n = 1500

    def factor(sd, shape):
        return np.exp(rng.normal(0, sd, shape) - sd * sd / 2)

    length = rng.lognormal(math.log(200), 0.6, (n, 1, ITEMS))
    before = length * (1 if base_shared else factor(0.03, (n, SEEDS, 1)) * factor(0.1, (n, SEEDS, ITEMS)))
    after = length * factor(0.2, (n, 1, ITEMS)) * factor(0.03, (n, SEEDS, 1)) * factor(0.1, (n, SEEDS, ITEMS))
    res = log_ratio_t(1.1 * after, before)
    assert 0.93 <= covered(res, math.log(1.1)) <= 0.97
    assert 0.03 <= np.mean(log_ratio_t(after, before)["p"] < 0.05) <= 0.07


@pytest.mark.parametrize("seed_sd", [0.0, 0.05])
def test_share_interval_covers_with_unequal_item_counts(seed_sd):
    rng = np.random.default_rng(11)
    counts = np.array([120, 90, 150])
    p_seed = 0.3 + rng.normal(0, seed_sd, (STUDIES, SEEDS))
    res = share_t(rng.binomial(counts, p_seed), counts)
    assert 0.93 <= covered(res, 0.3) <= 0.97


# ------------------------------------------------------------------------------------------
# edge cases and the public dicts


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_contrast_keys_points_and_names():
    rng = np.random.default_rng(12)
    table = crossed(rng, 1, ITEMS, 0.03, 0.008, 0.35, 0.1)[0]
    res = contrast(table)
    assert {"delta", "ci_low", "ci_high", "p", "level", "runs", "items", "per_run", "method", "p_method",
            "unit", "mde", "se", "df"} <= set(res)
    assert res["runs"] == SEEDS and res["items"] == ITEMS and len(res["per_run"]) == SEEDS
    assert res["delta"] == pytest.approx(100 * table.mean())
    assert res["per_run"] == pytest.approx(list(100 * table.mean(axis=1)))
    assert res["ci_low"] < res["delta"] < res["ci_high"] and 0 < res["p"] < 1 and res["mde"] > 0
    assert "seeds x items" in res["unit"] and "seeds x items" in res["p_method"]
    assert contrast(table, n_boot=50, seed=3) == res  # analytic: no resampling to vary


def test_one_seed_is_the_item_level_t_interval():
    rng = np.random.default_rng(13)
    row = rng.normal(0.02, 0.3, ITEMS)
    res = contrast(row[None, :])
    se = row.std(ddof=1) / math.sqrt(ITEMS)
    q = float(_t_crit(0.05, np.array(ITEMS - 1.0)))
    assert res["runs"] == 1 and res["df"] == ITEMS - 1 and "items only" in res["unit"]
    assert res["ci_low"] == pytest.approx(100 * (row.mean() - q * se))
    assert res["ci_high"] == pytest.approx(100 * (row.mean() + q * se))
    assert contrast(row) == res  # a 1-D table is one seed


def test_constant_tables_have_degenerate_intervals():
    zero = contrast(np.zeros((SEEDS, ITEMS)))
    assert (zero["delta"], zero["ci_low"], zero["ci_high"], zero["p"], zero["mde"]) == (0.0, 0.0, 0.0, 1.0, 0.0)
    one = contrast(np.ones((SEEDS, ITEMS)))
    assert one["delta"] == one["ci_low"] == one["ci_high"] == 100.0 and one["p"] == 0.0
    tenth = contrast(np.full((SEEDS, ITEMS), 0.1))  # not exact in binary: rounding is not variance
    assert tenth["ci_low"] == pytest.approx(10.0) and tenth["ci_high"] == pytest.approx(10.0)
    for res in (zero, one, tenth):
        assert all(math.isfinite(res[k]) for k in ("delta", "ci_low", "ci_high", "p", "se", "df", "mde"))


def test_seeds_that_agree_add_nothing_and_a_shared_base_is_fine():
    rng = np.random.default_rng(14)
    row = rng.normal(0.02, 0.3, ITEMS)
    same = contrast(np.tile(row, (SEEDS, 1)))  # e.g. two arms that are both evaluated once
    one = contrast(row[None, :])
    assert same["ci_low"] == pytest.approx(one["ci_low"]) and same["ci_high"] == pytest.approx(one["ci_high"])
    assert "items only" in same["unit"] and "items only" in mean_ci(np.tile(row, (SEEDS, 1)))["unit"]
    # base evaluated once, trained arm per seed: B's rows are identical, the difference is not
    q = rng.beta(0.1, 0.1, ITEMS)
    base = (rng.random(ITEMS) < q).astype(float)
    arm = (rng.random((SEEDS, ITEMS)) < 1 - (1 - q) * 0.94).astype(float)
    res = contrast(arm - base)
    assert res["ci_low"] < res["delta"] < res["ci_high"] and 0 <= res["p"] <= 1


def test_bad_tables_are_refused():
    with pytest.raises(ValueError):
        contrast(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError):
        contrast(np.ones((1, 1)))
    with pytest.raises(ValueError):
        contrast(np.ones((2, 3, 4)))


def test_mean_ci_in_points_and_inside_0_100():
    assert mean_ci(np.ones((SEEDS, ITEMS)))["ci_high"] == 100.0
    rng = np.random.default_rng(15)
    scores = (rng.random((SEEDS, 30)) < 0.97).astype(float)
    res = mean_ci(scores)
    assert 0.0 <= res["ci_low"] <= res["mean"] <= res["ci_high"] <= 100.0
    assert res["mean"] == pytest.approx(100 * scores.mean()) and (res["runs"], res["items"]) == (SEEDS, 30)


def test_relative_change_edges():
    rng = np.random.default_rng(16)
    before = rng.lognormal(5, 0.5, (SEEDS, ITEMS))
    same = relative_change(before, before)
    assert (same["change_pct"], same["ci_low"], same["ci_high"], same["p"]) == (0.0, 0.0, 0.0, 1.0)
    half_more = relative_change(1.5 * before, before)
    assert half_more["change_pct"] == pytest.approx(50.0) and half_more["ci_low"] == pytest.approx(50.0)
    noisy = relative_change(before * rng.lognormal(-0.3, 0.2, (SEEDS, ITEMS)), before[0])  # base: one row
    assert noisy["ci_low"] < noisy["change_pct"] < noisy["ci_high"] < 0 and noisy["p"] < 0.05
    assert {"change_pct", "ci_low", "ci_high", "p", "runs", "items", "method"} <= set(noisy)
    gone = relative_change(np.zeros((SEEDS, ITEMS)), before)  # e.g. an arm that stopped thinking
    assert (gone["change_pct"], gone["ci_low"], gone["ci_high"], gone["p"]) == (-100.0, -100.0, -100.0, 0.0)
    with pytest.raises(ValueError):
        relative_change(before, np.zeros((SEEDS, ITEMS)))


def test_interaction_formulas():
    rng = np.random.default_rng(17)
    base = rng.random((SEEDS, ITEMS))
    t = {(a, b): base + 0.10 * a + 0.05 * b + 0.02 * a * b for a in (0, 1) for b in (0, 1)}
    res = interaction(t[1, 1], t[1, 0], t[0, 1], t[0, 0])
    assert res["main_a"]["delta"] == pytest.approx(11.0)  # 10 + half the 2-point interaction
    assert res["main_b"]["delta"] == pytest.approx(6.0)
    assert res["interaction"]["delta"] == pytest.approx(2.0)
    assert res["interaction"]["ci_high"] - res["interaction"]["ci_low"] == pytest.approx(0.0, abs=1e-9)
    assert set(res["formulas"]) == {"main_a", "main_b", "interaction"}
    cells = [rng.random((SEEDS, ITEMS)) for _ in range(4)]
    noisy = interaction(*cells, level=0.9)
    for key, table in (("interaction", cells[0] - cells[2] - cells[1] + cells[3]),
                       ("main_b", (cells[0] + cells[2] - cells[1] - cells[3]) / 2)):
        expect = contrast(table, level=0.9)
        assert [noisy[key][k] for k in ("delta", "ci_low", "ci_high", "p")] == pytest.approx(
            [expect[k] for k in ("delta", "ci_low", "ci_high", "p")])


def test_share_ci():
    rng = np.random.default_rng(18)
    flags = [rng.random(n) < 0.3 for n in (120, 90, 150)]
    res = share_ci(flags)
    pooled = 100 * sum(f.sum() for f in flags) / 360
    assert res["share"] == pytest.approx(pooled) and (res["n"], res["runs"]) == (360, 3)
    assert 0 <= res["ci_low"] < res["share"] < res["ci_high"] <= 100 and "seeds" in res["unit"]
    none = share_ci([np.zeros(40), np.zeros(25), np.zeros(0)])
    assert none["share"] == 0.0 and none["ci_low"] == 0.0 and 0 < none["ci_high"] < 10
    assert none["per_run"][2] is None and "Wilson" in none["method"]
    with pytest.raises(ValueError):
        share_ci([])
    with pytest.raises(ValueError):
        share_ci([np.zeros(0)])


def test_t_distribution_matches_reference_values():
    mpmath = pytest.importorskip("mpmath")
    df = np.array([1.0, 1.7, 2.0, 2.6, 4.0, 11.0, 399.0, 2398.0])
    for tail in (0.05, 0.4, 0.01):
        t = _t_crit(tail, df)
        for d, x in zip(df, t, strict=True):
            ref = mpmath.betainc(d / 2, 0.5, 0, d / (d + x * x), regularized=True)
            assert float(ref) == pytest.approx(tail, rel=1e-8)
        assert _t_tail(t, df) == pytest.approx(np.full(df.shape, tail), rel=1e-8)
    assert float(_t_crit(0.05, np.array(2.0))) == pytest.approx(4.302652729911275)
