"""Effects of training with intervals and p-values, over training seeds and held-out items.

Arms are scored on the same held-out items in every seed, so a comparison is a table
d[s, i] = score_A(seed s, item i) - score_B(seed s, item i) with a crossed structure: an item
effect shared by all seeds (some items are easy for A, whichever seed), a seed effect shared by
all items (a run that went well), and noise. A score is 0/1 under greedy decoding or the fraction
of correct samples under sampled evaluation. The mean of d generalises over both levels, so its
variance has three parts (crossed random effects):

    Var(mean) = sigma_seed^2 / S + sigma_item^2 / I + sigma_noise^2 / (S I).

Why not a bootstrap: with three seeds a resample of seeds takes one of ten multisets, so the
two-level percentile bootstrap (`bootstrap_ci`) needs t with 2 df where it has z, and resampling
both levels counts the noise twice. On simulated studies at 3 seeds x 400 items it covers 86% when
seeds dominate and 97-99.8% when arms differ by noise only; a sign-flip permutation over three
seeds cannot go below p = 0.25. `crossed_t` instead takes the variance from the mean squares of
the seeds x items ANOVA and uses a t reference:

    SE^2 = MS_seed / (S I) + max(MS_item - MS_noise, 0) / (S I)
         = var(per-seed means) / S + sigma_item^2 (estimated, >= 0) / I,

which is unbiased whenever the item component is positive. The seed part is never truncated (a
seed variance estimated below zero and dropped would leave the interval too narrow exactly when
seeds matter); the item part, estimated from hundreds of df, is. The degrees of freedom are
Satterthwaite's with MS_seed at its one-sided 70% upper confidence bound: plain Satterthwaite
plugs in a seed mean square with only S - 1 = 2 df, and when that comes out small the df come out
large too, so the interval undercovers (to ~92%) where seeds matter. With the bound, the coverage
of a 95% interval at 3 seeds x 400 or 1,200 items stays within 94.5-96.1% over the whole range of
seed, item and noise variance (from the mean squares' chi-square laws, 200,000 draws per point;
two seeds: 93.2-96.8%, five: 94.9-95.5%); Gaussian and 0/1 simulated studies in
tests/eval/test_stats_study.py agree. The 70% was chosen on that grid. The p-value
is the two-sided t test with the same SE and df, so it agrees with the interval. Everything is
numpy over a leading batch axis, so thousands of studies are checked in a fraction of a second.

`bootstrap_ci` is kept for existing callers; `contrast`, `mean_ci`, `relative_change`,
`interaction` and `share_ci` are the study summaries (points / percent, with method and unit named).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from statistics import NormalDist
from typing import Any

import numpy as np

SEED_BOUND = 0.70  # one-sided confidence of the bound on MS_seed used in the df (see module doc)
POWER = 0.80  # power behind the minimum detectable effect
UNIT = "seeds x items (crossed random effects: generalises to new training seeds and new held-out items)"
UNIT_ITEMS = "items only (one seed: seed-to-seed variation cannot be estimated and is not included)"
UNIT_SAME = "items only (every seed's row is the same, e.g. the base evaluated once: no seed variation)"
METHOD = ("t interval, crossed seeds x items variance components: SE^2 = var(per-seed means)/S + "
          "item component/I, Satterthwaite df with the seed mean square at its 70% upper bound "
          "(analytic, no resampling)")
P_METHOD = "two-sided t test of mean difference = 0 with the interval's SE and df (analytic, no resampling)"
_TINY = 1e-300
_lgamma_obj = np.frompyfunc(math.lgamma, 1, 1)


def _lgamma(x: Any) -> np.ndarray:
    """log Gamma, elementwise (math.lgamma over an array)."""
    return np.asarray(_lgamma_obj(x), dtype=float)


def paired_deltas(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Per-item differences on the items both score dicts share (item id -> score)."""
    return {k: after[k] - before[k] for k in before if k in after}


def bootstrap_ci(
    runs: Sequence[dict[str, float]], n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> dict[str, Any]:
    """Mean per-item delta (in points) over runs, with a two-level percentile bootstrap interval.

    `runs` holds one item-id -> delta dict per seed; only items present in every run count. Each
    draw resamples seeds, then items (the same item draw for every drawn seed). Kept for existing
    callers; `contrast` is the calibrated interval with a p-value (see the module doc for why).
    """
    if not runs:
        raise ValueError("no runs to summarise")
    items = sorted(set.intersection(*(set(r) for r in runs)))
    if not items:
        raise ValueError("the runs share no items")
    table = np.array([[r[i] for i in items] for r in runs], dtype=float)  # (seeds, items)
    n_runs, n_items = table.shape
    rng = np.random.default_rng(seed)
    # multinomial counts are resampling with replacement; the mean of a draw is w T c / (S I)
    w = rng.multinomial(n_runs, np.full(n_runs, 1.0 / n_runs), size=n_boot).astype(float)
    c = rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=n_boot).astype(float)
    draws = np.sort(((w @ table) * c).sum(axis=1) / (n_runs * n_items))
    lo = draws[int((1 - level) / 2 * n_boot)]
    hi = draws[min(n_boot - 1, int((1 + level) / 2 * n_boot))]
    return {
        "delta": 100.0 * float(table.mean()),
        "ci_low": 100.0 * float(lo),
        "ci_high": 100.0 * float(hi),
        "level": level,
        "runs": n_runs,
        "items": n_items,
        "per_run": [100.0 * float(x) for x in table.mean(axis=1)],
    }


# ----------------------------------------------------------------------------------------------
# Student t and chi-square tails (numpy only: scipy is not a dependency)


def _betacf(a: np.ndarray, b: np.ndarray, x: np.ndarray, max_iter: int = 10000) -> np.ndarray:
    """Continued fraction of the incomplete beta function (modified Lentz), elementwise."""
    def guard(v: np.ndarray) -> np.ndarray:
        return np.where(np.abs(v) < _TINY, _TINY, v)

    c = np.ones_like(x)
    d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0))
    h = d.copy()
    active = np.ones(x.shape, dtype=bool)
    for m in range(1, max_iter + 1):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 / guard(1.0 + num * d)
            c = guard(1.0 + num / c)
            step = d * c
            h = np.where(active, h * step, h)
        active &= np.abs(step - 1.0) > 1e-15
        if not active.any():
            break
    return h


def _t_tail(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided tail P(|T_df| >= |t|) = I_{df/(df+t^2)}(df/2, 1/2), elementwise, any df > 0."""
    t, df = np.broadcast_arrays(np.abs(np.asarray(t, float)), np.asarray(df, float))
    a, b = df / 2, np.full(df.shape, 0.5)
    x, y = df / (df + t * t), t * t / (df + t * t)
    flip = x > (a + 1) / (a + b + 2)  # the continued fraction converges fast below this point
    aa, bb = np.where(flip, b, a), np.where(flip, a, b)
    xx, yy = np.where(flip, y, x), np.where(flip, x, y)
    lbeta = _lgamma(aa) + _lgamma(bb) - _lgamma(aa + bb)
    with np.errstate(divide="ignore"):
        front = np.exp(aa * np.log(xx) + bb * np.log(yy) - lbeta) / aa
    r = front * _betacf(aa, bb, xx)
    return np.clip(np.where(flip, 1.0 - r, r), 0.0, 1.0)


def _t_crit(tail: float, df: np.ndarray) -> np.ndarray:
    """t > 0 with two-sided tail probability `tail` at df >= 1: Hill (1970, ACM 396), then Newton."""
    n = np.maximum(np.asarray(df, float), 1.0)
    a = 1 / (n - 0.5)
    b = 48 / (a * a)
    c = ((20700 * a / b - 98) * a - 16) * a + 96.36
    d = ((94.5 / (b + c) - 3) / b + 1) * np.sqrt(a * math.pi / 2) * n
    y = (d * tail) ** (2 / n)
    z = NormalDist().inv_cdf(tail / 2)
    c1 = np.where(n < 5, c + 0.3 * (n - 4.5) * (z + 0.6), c)
    c1 = (((0.05 * d * z - 5) * z - 7) * z - 2) * z + b + c1
    y1 = np.expm1(a * ((((((0.4 * z * z + 6.3) * z * z + 36) * z * z + 94.5) / c1 - z * z - 3) / b + 1) * z) ** 2)
    y2 = ((1 / (((n + 6) / (n * y) - 0.089 * d - 0.822) * (n + 2) * 3) + 0.5 / (n + 4)) * y - 1) \
        * (n + 1) / (n + 2) + 1 / y
    t = np.sqrt(n * np.where(y > 0.05 + a, y1, y2))
    log_norm = _lgamma((n + 1) / 2) - _lgamma(n / 2) - 0.5 * np.log(n * math.pi)
    for _ in range(4):  # the start is good to ~1e-4; Newton on the exact tail polishes it
        pdf = np.exp(log_norm - (n + 1) / 2 * np.log1p(t * t / n))
        t = np.maximum(t + (_t_tail(t, n) - tail) / (2 * pdf), t / 2)
    return t


@lru_cache(maxsize=64)
def _seed_bound_factor(df_seed: int) -> float:
    """df / chi2_df(1 - SEED_BOUND): MS_seed at its one-sided upper confidence bound, over MS_seed.

    2.80 at two df (three seeds), 1.82 at four, tending to 1 with many seeds.
    """
    a, target = df_seed / 2, 1 - SEED_BOUND

    def lower_gamma(x: float) -> float:  # regularised P(a, x), series (x is below ~a here)
        term = total = 1.0 / a
        k = 0
        while term > total * 1e-16 and k < 100000:
            k += 1
            term *= x / (a + k)
            total += term
        return total * math.exp(-x + a * math.log(x) - math.lgamma(a))

    lo, hi = 1e-12, max(4.0 * a, 10.0)
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if lower_gamma(mid) < target else (lo, mid)
    return df_seed / (lo + hi)  # chi2 quantile = 2 x gamma quantile


# ----------------------------------------------------------------------------------------------
# Vectorised cores (a leading batch axis; the tests run thousands of simulated studies at once)


def crossed_t(tables: Any, level: float = 0.95, scale: Any = None) -> dict[str, np.ndarray]:
    """Mean of (..., S, I) seeds x items tables with its crossed-design SE, df, interval and p.

    Returns arrays over the batch: mean, se, df, ci_low, ci_high, p (H0: mean = 0) and mde, as
    fractions (not points). See the module doc for the variance and df and why. One seed (S = 1)
    falls back to the item-level t (items only); a table with no variance has se 0, an interval
    of one point, p = 1 when its mean is 0 and 0 otherwise; "no variance" is judged relative to
    `scale` (default: the largest absolute value in each table), so rounding noise does not count.
    """
    d = np.asarray(tables, dtype=float)
    n_seeds, n_items = d.shape[-2:]
    mean = d.mean(axis=(-2, -1))
    dev = d - mean[..., None, None]
    seed_dev, item_dev = dev.mean(axis=-1), dev.mean(axis=-2)
    df_s, df_i, df_e = n_seeds - 1, n_items - 1, (n_seeds - 1) * (n_items - 1)
    ss_s, ss_i = n_items * (seed_dev**2).sum(-1), n_seeds * (item_dev**2).sum(-1)
    ss_e = np.maximum(np.einsum("...si,...si->...", dev, dev) - ss_s - ss_i, 0.0)  # residual = total - both
    ms_s, ms_i, ms_e = ss_s / max(df_s, 1), ss_i / max(df_i, 1), ss_e / max(df_e, 1)
    item_part = np.maximum(ms_i - ms_e, 0.0)  # S sigma_item^2 (+ the noise when S = 1, where ms_e = 0)
    var = (ms_s + item_part) / (n_seeds * n_items)
    seed_up = _seed_bound_factor(df_s) * ms_s if df_s else np.zeros_like(ms_s)
    spread = (seed_up**2 / max(df_s, 1)
              + (item_part > 0) * (ms_i**2 / max(df_i, 1) + (ms_e**2 / df_e if df_e else 0.0)))
    scale = np.abs(d).max(axis=(-2, -1)) if scale is None else np.asarray(scale, dtype=float)
    flat = var <= (1e-12 * scale) ** 2  # constant up to rounding: no sampling variance
    df = np.where(flat | (spread <= 0), float(max(n_seeds * n_items - 1, 1)),
                  (seed_up + item_part) ** 2 / np.where(spread > 0, spread, 1.0))
    df = np.maximum(df, 1.0)
    se = np.where(flat, 0.0, np.sqrt(var))
    mean = np.where(np.abs(mean) <= 1e-12 * scale, 0.0, mean)
    return {"mean": mean, "se": se, "df": df, **_t_summary(mean, se, df, level)}


def _t_summary(est: np.ndarray, se: np.ndarray, df: np.ndarray, level: float) -> dict[str, np.ndarray]:
    """Interval est -/+ t_crit se, two-sided p for est = 0, and the minimum detectable effect.

    mde = (t_{alpha/2} + t_{power}) * se at the same df: the smallest true difference that a
    two-sided test at alpha = 1 - level detects with 80% power at this design (seeds, items), given
    the variance estimated from this table (the usual power formula, with t quantiles because the
    SE is itself estimated). It is a plug-in: where seeds carry much of the variance the SE is
    estimated from 2 df and the power actually reached at the mde is nearer 70% than 80%.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    q = _t_crit(1 - level, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat = np.where(se > 0, np.abs(est) / np.where(se > 0, se, 1.0), 0.0)
    p = np.where(se > 0, _t_tail(tstat, df), np.where(est == 0, 1.0, 0.0))
    mde = (q + _t_crit(2 * (1 - POWER), df)) * se
    return {"ci_low": est - q * se, "ci_high": est + q * se, "p": p, "mde": mde}


def log_ratio_t(after: Any, before: Any, level: float = 0.95) -> dict[str, np.ndarray]:
    """log(mean(after) / mean(before)) over (..., S, I) tables with a crossed-design t interval.

    `before` may have one seed row (the base, evaluated once), broadcast to every seed of `after`.
    The delta method: log(mean A) - log(mean B) moves, to first order, like the mean of the
    table A / mean(A) - B / mean(B), so that table's crossed SE and df (as in `crossed_t`) are the
    log ratio's. Returns arrays log_ratio, se, df, ci_low, ci_high (on the log scale), p, mde.
    """
    try:
        a, b = np.broadcast_arrays(np.asarray(after, dtype=float), np.asarray(before, dtype=float))
    except ValueError as err:
        raise ValueError(f"after and before do not match: {np.shape(after)} vs {np.shape(before)}") from err
    ma, mb = a.mean(axis=(-2, -1)), b.mean(axis=(-2, -1))
    if np.any(ma <= 0) or np.any(mb <= 0):
        raise ValueError("a relative change needs positive means on both sides")
    ra, rb = a / ma[..., None, None], b / mb[..., None, None]
    scale = np.maximum(np.abs(ra).max(axis=(-2, -1)), np.abs(rb).max(axis=(-2, -1)))
    lin = crossed_t(ra - rb, level, scale)
    est = np.log(ma) - np.log(mb)
    est = np.where(np.abs(est) <= 1e-12, 0.0, est)
    return {"log_ratio": est, "se": lin["se"], "df": lin["df"], **_t_summary(est, lin["se"], lin["df"], level)}


def share_t(flagged: Any, counts: Any, level: float = 0.95) -> dict[str, np.ndarray]:
    """Pooled share sum(k)/sum(n) over (..., S) per-seed counts, with a seeds-as-clusters t interval.

    Items differ from seed to seed here (nested, not crossed), so each seed's share already
    carries its own item sampling noise: the cluster-robust variance of the pooled ratio,
    S/(S-1) sum_s w_s^2 (p_s - p)^2 with w_s = n_s / N, covers seeds and items at once, with S - 1
    df. Seeds without items are left out. Returns arrays share, se, df, ci_low, ci_high.
    """
    k, n = np.broadcast_arrays(np.asarray(flagged, dtype=float), np.asarray(counts, dtype=float))
    total = n.sum(-1)
    share = k.sum(-1) / np.where(total > 0, total, 1.0)
    used = (n > 0).sum(-1)
    p_s = k / np.where(n > 0, n, 1.0)
    w = n / np.where(total > 0, total, 1.0)[..., None]
    var = used / np.maximum(used - 1, 1) * (w**2 * (p_s - share[..., None]) ** 2).sum(-1)
    df = np.maximum(used - 1, 1).astype(float)
    se = np.sqrt(np.where(var > 1e-24, var, 0.0))
    q = _t_crit(1 - level, df)
    return {"share": share, "se": se, "df": df, "ci_low": share - q * se, "ci_high": share + q * se}


# ----------------------------------------------------------------------------------------------
# Public summaries of one (S, I) table


def _table(values: Any, what: str = "table") -> np.ndarray:
    """A finite (seeds, items) float array; a 1-D input is one seed."""
    t = np.asarray(values, dtype=float)
    if t.ndim == 1:
        t = t[None, :]
    if t.ndim != 2 or t.shape[0] < 1 or t.shape[1] < 1:
        raise ValueError(f"{what} must be (seeds, items), got shape {t.shape}")
    if t.size < 2:
        raise ValueError(f"{what} needs at least two cells (got one seed and one item)")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{what} has NaN or infinite values")
    return t


def _unit(t: np.ndarray) -> str:
    """What the interval of table t generalises over."""
    if t.shape[0] == 1:
        return UNIT_ITEMS
    return UNIT_SAME if bool(np.all(t == t[0])) else UNIT


def contrast(table: Any, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Paired mean difference (points) of a (seeds, items) delta table, with interval and p-value.

    table[s, i] = score_A(seed s, item i) - score_B(seed s, item i) on the same items in every
    seed (the B side may be the base, identical in every seed). Returns delta, ci_low, ci_high,
    p, level, runs (S), items (I), per_run (per-seed mean deltas), se, df, mde (the minimum
    detectable effect at 80% power, see `_t_summary`), method, unit, p_method; all in points.
    `n_boot` and `seed` are accepted for call compatibility with `bootstrap_ci` and unused: the
    interval is analytic (a bootstrap over three seeds cannot be calibrated, see the module doc),
    so results do not depend on them.
    """
    del n_boot, seed
    t = _table(table)
    r = {k: float(v[0]) for k, v in crossed_t(t[None], level).items()}
    unit = _unit(t)
    return {
        "delta": 100.0 * r["mean"], "ci_low": 100.0 * r["ci_low"], "ci_high": 100.0 * r["ci_high"],
        "p": r["p"], "level": level, "runs": t.shape[0], "items": t.shape[1],
        "per_run": [100.0 * float(x) for x in t.mean(axis=1)],
        "se": 100.0 * r["se"], "df": r["df"], "mde": 100.0 * r["mde"],
        "method": METHOD, "unit": unit, "p_method": f"{P_METHOD}; unit: {unit}",
    }


def mean_ci(table: Any, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Mean score (points) of a (seeds, items) table with the same crossed-design interval.

    For "accuracy of an arm on a capability, mean over seeds": the interval covers both which
    items were held out and how a training run went. Scores in [0, 1] keep the interval inside
    [0, 100]. `n_boot` and `seed` are unused, as in `contrast`.
    """
    del n_boot, seed
    t = _table(table)
    r = {k: float(v[0]) for k, v in crossed_t(t[None], level).items()}
    lo, hi = 100.0 * r["ci_low"], 100.0 * r["ci_high"]
    if t.min() >= 0 and t.max() <= 1:
        lo, hi = max(lo, 0.0), min(hi, 100.0)
    return {"mean": 100.0 * r["mean"], "ci_low": lo, "ci_high": hi, "level": level,
            "runs": t.shape[0], "items": t.shape[1], "per_run": [100.0 * float(x) for x in t.mean(axis=1)],
            "se": 100.0 * r["se"], "df": r["df"], "method": METHOD, "unit": _unit(t)}


def relative_change(after: Any, before: Any, *, n_boot: int = 2000, level: float = 0.95,
                    seed: int = 0) -> dict[str, Any]:
    """Relative change of a mean, mean(after)/mean(before) - 1 in %, e.g. of response length.

    after and before are (seeds, items) tables of positive per-item values on the same items
    (before may be the base: identical in every seed, or given as one row). The interval and
    p-value are the crossed t on the log ratio (delta method, see `log_ratio_t`), mapped back to
    %, so the interval is asymmetric and never below -100%; all-zero `after` (e.g. no thinking
    tokens) is a sure -100%. Means must be positive otherwise. `n_boot` and `seed` are unused, as in `contrast`.
    """
    del n_boot, seed
    a, b = _table(after, "after"), _table(before, "before")
    if b.shape[0] == 1:
        b = np.broadcast_to(b, a.shape)
    if a.shape != b.shape:
        raise ValueError(f"after and before differ in shape: {a.shape} vs {b.shape}")
    unit = _unit(np.concatenate([a, b], axis=1))
    if b.mean() > 0 and not a.any():  # e.g. no thinking tokens at all after: a sure -100%
        return {"change_pct": -100.0, "ci_low": -100.0, "ci_high": -100.0, "p": 0.0, "level": level,
                "runs": a.shape[0], "items": a.shape[1], "df": float(a.size - 1),
                "method": "all values after are 0: the change is -100% with no sampling variation",
                "unit": unit, "p_method": "none needed (no variation)"}
    r = {k: float(v[0]) for k, v in log_ratio_t(a[None], b[None], level).items()}
    return {"change_pct": 100.0 * float(a.mean() / b.mean() - 1), "ci_low": 100.0 * math.expm1(r["ci_low"]),
            "ci_high": 100.0 * math.expm1(r["ci_high"]), "p": r["p"], "level": level,
            "runs": a.shape[0], "items": a.shape[1], "df": r["df"],
            "method": "log ratio of means, delta method, then " + METHOD, "unit": unit,
            "p_method": f"two-sided t test of log ratio = 0 with the interval's SE and df; unit: {unit}"}


def interaction(t11: Any, t10: Any, t01: Any, t00: Any, *, n_boot: int = 2000, level: float = 0.95,
                seed: int = 0) -> dict[str, Any]:
    """Main effects and interaction of a 2x2 factorial, each as a `contrast`, in points.

    t_ab is the (seeds, items) score table of the arm at level a of factor A and level b of
    factor B (e.g. A = staged, B = easy-to-hard ordering), on the same items; seed s of every arm
    is paired with seed s of the others. The contrasts are, cell by cell:
      main_a      = (t11 + t10)/2 - (t01 + t00)/2   (A averaged over both levels of B)
      main_b      = (t11 + t01)/2 - (t10 + t00)/2   (B averaged over both levels of A)
      interaction = (t11 - t01) - (t10 - t00)       (how much A's effect grows when B is on)
    The interaction is a difference of differences (not halved), so its SE is about twice the
    main effects'. Returns {"main_a", "main_b", "interaction"} (contrast dicts) and "formulas".
    `n_boot` and `seed` are unused, as in `contrast`.
    """
    del n_boot, seed
    cells = [_table(t, name) for t, name in zip((t11, t10, t01, t00), ("t11", "t10", "t01", "t00"), strict=True)]
    if len({c.shape for c in cells}) != 1:
        raise ValueError(f"the four tables differ in shape: {[c.shape for c in cells]}")
    a11, a10, a01, a00 = cells
    formulas = {"main_a": "(t11 + t10)/2 - (t01 + t00)/2", "main_b": "(t11 + t01)/2 - (t10 + t00)/2",
                "interaction": "(t11 - t01) - (t10 - t00)"}
    tables = {"main_a": (a11 + a10) / 2 - (a01 + a00) / 2, "main_b": (a11 + a01) / 2 - (a10 + a00) / 2,
              "interaction": (a11 - a01) - (a10 - a00)}
    out: dict[str, Any] = {k: contrast(v, level=level) for k, v in tables.items()}
    out["formulas"] = formulas
    return out


def share_ci(flags_by_seed: Sequence[Any], *, level: float = 0.95) -> dict[str, Any]:
    """Share (%) of flagged items over seeds, e.g. wrong answers flagged as perception errors.

    One 0/1 array per seed; the items (and their number) differ from seed to seed. The share is
    pooled, sum of flags / number of items; the interval treats seeds as clusters (see `share_t`),
    which covers item and seed variation with S - 1 df. With one seed, a share of 0% or 100%, or
    seeds that agree exactly (no spread to estimate), the interval is Wilson's score interval on
    the pooled items (items only). Returns share, ci_low, ci_high, n, runs, per_run, level,
    method, unit.
    """
    flags = [np.asarray(f, dtype=float).ravel() for f in flags_by_seed]
    if not flags:
        raise ValueError("no seeds to summarise")
    if any(np.any((f != 0) & (f != 1)) for f in flags):
        raise ValueError("flags must be 0/1")
    k = np.array([f.sum() for f in flags])
    n = np.array([f.size for f in flags], dtype=float)
    total = int(n.sum())
    if total == 0:
        raise ValueError("no items to take a share of")
    r = {key: float(v) for key, v in share_t(k, n, level).items()}
    if (n > 0).sum() > 1 and r["se"] > 0:
        lo, hi = r["ci_low"], r["ci_high"]
        method, unit = ("pooled share, seeds as clusters: t interval with cluster-robust SE "
                        "(S/(S-1) sum w_s^2 (p_s - p)^2), S - 1 df"), "seeds (items nested within seeds)"
    else:
        z = NormalDist().inv_cdf(1 - (1 - level) / 2)
        p, centre = r["share"], (r["share"] + z * z / (2 * total)) / (1 + z * z / total)
        half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
        lo, hi = centre - half, centre + half
        method, unit = "pooled share, Wilson score interval on the pooled items", "items only"
    return {"share": 100.0 * r["share"], "ci_low": 100.0 * max(lo, 0.0), "ci_high": 100.0 * min(hi, 1.0),
            "n": total, "runs": len(flags), "level": level,
            "per_run": [100.0 * float(f.mean()) if f.size else None for f in flags],
            "method": method, "unit": unit}
