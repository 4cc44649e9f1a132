"""The `seethink` command line: a thin layer that builds a config and calls one function."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from seethink.errors import UserError

if TYPE_CHECKING:
    from seethink.config import Recipe

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, pretty_exceptions_enable=False)
data_app = typer.Typer(no_args_is_help=True, help="Data tools: toy items and more.")
app.add_typer(data_app, name="data")

Overrides = Annotated[list[str] | None, typer.Argument(help="config overrides: key.sub=value ...")]


def _recipe(path_or_preset: str | None, overrides: list[str] | None):  # noqa: ANN202
    from seethink.config import load_recipe
    from seethink.recipes import preset_names, preset_path

    if path_or_preset in preset_names() and not Path(path_or_preset).exists():
        path_or_preset = str(preset_path(path_or_preset))
    return load_recipe(path_or_preset, overrides or [])


@app.command()
def demo(
    preset: Annotated[str, typer.Option(help="smoke (pipeline check, <2 min), fast (the whole pipeline, ~7 min; RL within noise) or quick (the demo: RL measurably helps, ~25 min; alias gentle)")] = "quick",
    out: Annotated[Path | None, typer.Option(help="run directory (default runs/PRESET)")] = None,
    overrides: Overrides = None,
) -> None:
    """Build and warm-start the tiny VLM, train it merged and staged with GRPO, evaluate, report."""
    from seethink.recipes import PRESETS, preset_names
    from seethink.training.pipeline import run_recipe

    if preset not in preset_names():
        raise UserError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    recipe = _recipe(preset, overrides)
    _print_summary(run_recipe(recipe, _writable(out or Path("runs") / recipe.name)))


@app.command()
def run(
    recipe: Annotated[str, typer.Argument(help="recipe YAML file, or a preset name (smoke, fast, quick)")],
    overrides: Overrides = None,
    out: Annotated[Path | None, typer.Option(help="run directory (default runs/NAME)")] = None,
) -> None:
    """Run any recipe: warm start or load the base, train every variant, evaluate, report."""
    from seethink.training.pipeline import run_recipe

    r = _recipe(recipe, overrides)
    _print_summary(run_recipe(r, _writable(out or Path("runs") / r.name)))


@app.command("eval")
def eval_cmd(
    model: Annotated[str, typer.Option(help="local HF model directory, or 'toy'")] = "toy",
    benchmarks: Annotated[str | None, typer.Option(
        help="comma list of benchmarks (mathvision,wemath,...); without it: the toy held-out sets")] = None,
    data_root: Annotated[Path | None, typer.Option(help="folder holding one sub-folder per benchmark")] = None,
    data: Annotated[list[str] | None, typer.Option(help="NAME=DIR for one benchmark's data; repeat")] = None,
    limit: Annotated[int | None, typer.Option(help="first N items of each benchmark")] = None,
    max_new_tokens: Annotated[int, typer.Option(help="tokens per answer (benchmarks)")] = 512,
    batch_size: Annotated[int, typer.Option(help="prompts per generate call (benchmarks)")] = 16,
    capabilities: Annotated[str, typer.Option(help="comma list of toy capabilities")] = "perception,text,visual",
    n: Annotated[int, typer.Option(help="held-out items per capability")] = 200,
    out: Annotated[Path, typer.Option(help="output directory")] = Path("runs/eval"),
    ablation: Annotated[bool, typer.Option(help="also score with blank / shuffled images")] = True,
    backend: Annotated[str, typer.Option(
        help="benchmarks: auto (vLLM when installed and a GPU is present), hf or vllm")] = "auto",
    device: Annotated[str | None, typer.Option(
        help="auto (cuda when available), cpu, cuda or cuda:N (default: eval.device, auto)")] = None,
    dtype: Annotated[str | None, typer.Option(
        help="auto (bf16 on a GPU with native bf16, else model.dtype), float32, bfloat16 or float16 "
             "(default: eval.dtype, auto)")] = None,
    samples: Annotated[int | None, typer.Option(
        help="benchmarks: also N sampled answers per item, scored by the fraction correct (default: eval.samples)")] = None,
    temperature: Annotated[float | None, typer.Option(help="sampling temperature (default: eval.temperature, 0.6)")] = None,
    top_p: Annotated[float | None, typer.Option(help="nucleus sampling p (default: eval.top_p, 0.95)")] = None,
    protocol: Annotated[str | None, typer.Option(
        help="benchmarks: unified (our reasoning prompt) or paper (the paper's splits, prompts and judge; "
             "judge settings from eval.judge_*)")] = None,
    base_model: Annotated[bool, typer.Option(
        "--base-model", help="protocol paper: the model is a base model (no system prompt)")] = False,
    overrides: Overrides = None,
) -> None:
    """Evaluate a checkpoint on benchmarks (official result files + metrics) or the toy held-out sets."""
    from seethink.utils import pin_threads

    recipe = _eval_recipe(overrides, (("device", device), ("dtype", dtype), ("samples", samples),
                                      ("temperature", temperature), ("top_p", top_p), ("protocol", protocol)))
    _writable(out)
    pin_threads(recipe.threads or None)
    if benchmarks:
        _eval_benchmarks(recipe, model, benchmarks, data_root=data_root, data=data, limit=limit, out=out,
                         max_new_tokens=max_new_tokens, batch_size=batch_size, backend=backend,
                         base_model=base_model)
    else:
        _eval_toy(recipe, model, capabilities, n=n, ablation=ablation, out=out)


def _eval_recipe(overrides: list[str] | None, flags: tuple[tuple[str, object], ...]) -> Recipe:
    """The recipe with the eval flags that were given set on `recipe.eval`, validated; an error names
    the flag, not the config key."""
    recipe = _recipe(None, overrides)
    for key, value in flags:
        if value is not None:
            setattr(recipe.eval, key, value)
    from seethink.config import validate

    try:
        validate(recipe)
    except UserError as exc:  # name the flag, not the config key
        import re

        raise UserError(re.sub(r"config key 'eval\.(device|dtype|samples|temperature|top_p|protocol)'",
                               lambda m: "--" + m.group(1).replace("_", "-"), str(exc))) from None
    return recipe


def _benchmark_paths(names: list[str], data: list[str] | None, data_root: Path | None) -> dict[str, Path]:
    """`--data NAME=DIR` as {name: folder}; every benchmark needs one there or `--data-root`."""
    paths = {}
    for spec in data or []:
        if "=" not in spec:
            raise UserError(f"--data expects NAME=DIR, got {spec!r}")
        name, _, folder = spec.partition("=")
        paths[name.strip()] = Path(folder)
    if data_root is None and not all(nm in paths for nm in names):
        raise UserError("give --data-root DIR (one folder per benchmark) or --data NAME=DIR for each")
    return paths


def _eval_benchmarks(recipe: Recipe, model: str, benchmarks: str, *, data_root: Path | None, data: list[str] | None,
                     limit: int | None, out: Path, max_new_tokens: int, batch_size: int, backend: str,
                     base_model: bool) -> None:
    from seethink.eval.bench_run import evaluate_benchmarks
    from seethink.models.resolve import resolve_model

    e = recipe.eval
    names = [b.strip() for b in benchmarks.split(",") if b.strip()]
    paths = _benchmark_paths(names, data, data_root)
    judge = None
    if e.protocol == "paper" and e.judge_base_url:
        from seethink.eval.judge import Judge

        judge = Judge(e.judge_base_url, e.judge_model, api_key_env=e.judge_api_key_env,
                      cache_path=out / "judge_cache.jsonl")
    results = evaluate_benchmarks(
        resolve_model(model, recipe), names, data_root=data_root, data_paths=paths, limit=limit, out_dir=out,
        max_new_tokens=max_new_tokens, batch_size=batch_size, device=e.device, dtype=e.dtype,
        load_dtype=recipe.model.dtype, trust_remote_code=recipe.model.trust_remote_code, backend=backend,
        samples=e.samples, temperature=e.temperature, top_p=e.top_p, seed=e.seed, protocol=e.protocol,
        is_base=base_model, system_prompt=e.paper_system_prompt, judge=judge,
    )
    keys = ("correct", "total", "accuracy", "sampled_accuracy", "protocol")
    typer.echo(json.dumps({k: {m: v.get(m) for m in keys if m in v} for k, v in results.items()}, indent=2))


def _eval_toy(recipe: Recipe, model: str, capabilities: str, *, n: int, ablation: bool, out: Path) -> None:
    """The toy held-out sets of the given capabilities, `n` items each."""
    import dataclasses

    from seethink.data.plan import eval_items
    from seethink.eval.run import evaluate_checkpoint
    from seethink.models.resolve import resolve_model

    caps = [c.strip() for c in capabilities.split(",") if c.strip()]
    bad = [c for c in caps if c not in ("perception", "text", "visual")]
    if bad:
        raise UserError(f"unknown capability {bad[0]!r}; choose from perception, text, visual")
    recipe.stages = [dataclasses.replace(recipe.stages[0], name=c, tasks=[f"toy_{c}"]) for c in caps]
    recipe.eval.items_per_capability = n
    recipe.eval.ablation = ablation
    recipe.eval.toy = True
    path = resolve_model(model, recipe)
    metrics = evaluate_checkpoint(path, eval_items(recipe), recipe, out)
    typer.echo(json.dumps(metrics, indent=2))


@app.command()
def experiment(
    recipe: Annotated[str, typer.Argument(help="experiment recipe YAML (with experiment.arms), e.g. recipes/toy/study.yaml")],
    overrides: Overrides = None,
    seeds: Annotated[str | None, typer.Option(help="comma list of seeds (default: experiment.seeds)")] = None,
    arms: Annotated[str | None, typer.Option(help="comma list: run only these arms (default: every arm)")] = None,
    settings: Annotated[str | None, typer.Option(
        help="a sweep (experiment.settings): run only these settings (default: every setting)")] = None,
    out: Annotated[Path | None, typer.Option(help="experiment directory (default runs/NAME)")] = None,
    results: Annotated[Path | None, typer.Option(
        help="also copy each finished unit's small result files (no checkpoints) here, e.g. results/NAME")] = None,
    workers: Annotated[int | None, typer.Option(help="units at once (default: one per core on a CPU)")] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="do not write the report at the end")] = False,
) -> None:
    """Run a study: every arm x seed from one base, on one shared evaluation; then its report."""
    from seethink.experiment.run import run_experiment

    r = _recipe(recipe, overrides)
    if workers is not None:
        r.experiment.workers = workers
    seed_list = _int_list(seeds, "--seeds") if seeds else None
    arm_list = _name_list(arms)
    exp = _writable(out or Path("runs") / r.name)
    run_experiment(r, exp, arms=arm_list, seeds=seed_list, results=results, settings=_name_list(settings))
    if not no_report:
        from seethink.experiment.report import write_experiment_report

        for path in write_experiment_report([exp]):
            typer.echo(str(path))


def _name_list(text: str | None) -> list[str] | None:
    return [a.strip() for a in text.split(",") if a.strip()] if text else None


def _int_list(text: str, flag: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"{flag}: expected a comma list of integers, got {text!r}") from None


@app.command()
def report(
    run_dirs: Annotated[list[Path], typer.Argument(
        help="a run directory with summary.json, or experiment directories (several pool into one report)")],
    out: Annotated[Path | None, typer.Option(help="experiments: where to write report.md/.html (default: the first directory)")] = None,
) -> None:
    """(Re)write the report of a finished run, or of an experiment (no retraining)."""
    if any((d / "experiment.yaml").is_file() for d in run_dirs):
        from seethink.experiment.report import write_experiment_report

        for path in write_experiment_report(run_dirs, out=out):
            typer.echo(str(path))
        return
    if len(run_dirs) != 1:
        raise UserError("give one run directory (several are pooled only for experiments)")
    from seethink.report.build import write_report

    typer.echo(str(write_report(run_dirs[0])))


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="run directories of the same recipe (e.g. one per seed)")],
    out: Annotated[Path | None, typer.Option(help="also write the effects as JSON here")] = None,
    against: Annotated[str | None, typer.Option(help="run directories of another recipe, comma-separated, in the same seed order as RUNS: compare each model of RUNS with the same model there")] = None,
    model: Annotated[list[str] | None, typer.Option(help="with --against: only this model (repeatable; default every trained model both sides have)")] = None,
    names: Annotated[str, typer.Option(help="with --against: what to call the two sides, 'A,B'")] = "runs,against",
) -> None:
    """Effects of each stage and each trained model, with 95% intervals over seeds and items."""
    from seethink.report.effects import effects, effects_between, effects_markdown
    from seethink.utils import write_json

    if against:
        a_name, _, b_name = names.partition(",")
        rows = effects_between([str(r) for r in runs], [s for s in against.split(",") if s], model or None,
                               names=(a_name or "runs", b_name or "against"))
    elif model:
        raise UserError("--model needs --against (without it every model is compared with the base)")
    else:
        rows = effects([str(r) for r in runs])
    if out is not None:
        write_json(out, rows)
    typer.echo(effects_markdown(rows), nl=False)


@app.command()
def score(
    benchmark: Annotated[str, typer.Argument(help="a registered benchmark: mathvision, mathvista, wemath, mathverse, pope, ...")],
    results: Annotated[Path, typer.Argument(help="a results file in the benchmark's official format")],
    data: Annotated[Path | None, typer.Option(help="the benchmark's data folder (default: found near RESULTS)")] = None,
    rule: Annotated[str | None, typer.Option(
        help="how answers are read: the benchmark's official (or pinned field-standard) rule by default; "
             "alternatives such as 'seethink' are listed in docs/benchmarks.md")] = None,
) -> None:
    """Re-score a results file as the benchmark's official evaluator does (or with --rule); JSON on stdout."""
    from seethink.eval.benchmarks import score_file

    typer.echo(json.dumps(score_file(benchmark, results, data, rule=rule), indent=2))


@app.command()
def judge(
    benchmark: Annotated[str, typer.Argument(help="mathvista | mathverse | hallusionbench (their official LLM steps), "
                                             "or attribution (perception vs reasoning errors of wrong answers)")],
    results: Annotated[Path, typer.Argument(help="a results file in the benchmark's official format; for "
                                            "attribution a predictions JSONL (id, response, correct), or 'toy' "
                                            "(the hand-labelled calibration set)")],
    out: Annotated[Path, typer.Option(help="where to write the results with judged fields")],
    base_url: Annotated[str, typer.Option(help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")],
    model: Annotated[str, typer.Option(help="judge model name at that endpoint")],
    api_key_env: Annotated[str, typer.Option(help="NAME of the environment variable holding the key")] = "OPENAI_API_KEY",
    cache: Annotated[Path | None, typer.Option(help="judgment cache (default: OUT.judge_cache.jsonl; "
                                               "attribution: OUT.verdicts.jsonl)")] = None,
    data: Annotated[Path | None, typer.Option(help="the benchmark's data folder (default: found near RESULTS)")] = None,
    items: Annotated[Path | None, typer.Option(help="attribution: the evaluated items (seethink JSONL: question, "
                                               "options, answer, caption/description)")] = None,
    template: Annotated[str | None, typer.Option(help="attribution: prompt template file (default: the packaged "
                                                 "attribution_judge)")] = None,
) -> None:
    """Fill LLM-judged fields of a results file (cached on disk), then re-score it with `seethink score`."""
    from seethink.eval.judge import Judge, judge_hallusionbench, judge_mathverse, judge_mathvista

    if benchmark == "attribution":
        from seethink.eval.attribution_judge import attribution_command, format_summary

        summary = attribution_command(str(results), items, out, Judge(base_url, model, api_key_env=api_key_env,
                                      max_tokens=256), cache=cache, template=template)
        typer.echo(format_summary(summary))
        typer.echo(f"labels -> {out}")
        return
    judges = {"mathvista": judge_mathvista, "mathverse": judge_mathverse, "hallusionbench": judge_hallusionbench}
    if benchmark not in judges:
        raise UserError(f"judging is implemented for {', '.join(judges)}, not {benchmark!r}")
    j = Judge(base_url, model, api_key_env=api_key_env, cache_path=cache or out.with_suffix(".judge_cache.jsonl"))
    stats = judges[benchmark](results, out, j, data_dir=data)
    typer.echo(f"judged {stats['judged']} of {stats['rows']} rows -> {out}")


@app.command("toy-base")
def toy_base(
    recipe_path: Annotated[str | None, typer.Option("--recipe", help="recipe whose world and warm start to build "
                                                    "(default: the default settings)")] = None,
    out: Annotated[Path | None, typer.Option(help="where to write it (default: the package's models/toy_base; "
                                             "other worlds: models/toy_bases/NAME)")] = None,
    overrides: Overrides = None,
) -> None:
    """Build the warm toy base (or take it from the cache) and write it as the artefact that ships.

    A fresh machine whose settings match its recorded cache key then copies it instead of
    spending 13 minutes building it; any other setting builds its own.
    """
    from seethink.toyworld.warmstart import export_base, shipped_base
    from seethink.utils import pin_threads

    if recipe_path is not None and out is None:
        raise UserError("--recipe: give --out too (models/toy_base is the default settings' base)")
    recipe = _recipe(recipe_path, overrides)
    pin_threads(recipe.threads or None)
    typer.echo(str(export_base(recipe, _writable(out) if out else shipped_base())))


@data_app.command("toy")
def data_toy(
    capability: Annotated[str, typer.Option(help="perception | text | visual")],
    n: Annotated[int, typer.Option(help="number of items")],
    out: Annotated[Path, typer.Option(help="output JSONL; images go to OUT_STEM_images/ beside it")],
    split: Annotated[str, typer.Option(help="train | test")] = "train",
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    overrides: Overrides = None,
) -> None:
    """Write toy-world items as JSONL with their images beside it."""
    from seethink.data.export import write_toy_items

    if capability not in ("perception", "text", "visual"):
        raise UserError(f"--capability must be perception, text or visual, got {capability!r}")
    if split not in ("train", "test"):
        raise UserError(f"--split must be train or test, got {split!r}")
    if n < 1:
        raise UserError("--n must be >= 1")
    recipe = _recipe(None, overrides)
    path = write_toy_items(capability, n, split, seed, out, recipe.toy)
    typer.echo(f"wrote {n} {capability} items ({split}) to {path}")


def _register_data_commands() -> None:
    from seethink.data.commands import register

    register(data_app)


_register_data_commands()


def _writable(out: Path) -> Path:
    """Fail now, not after hours of training, when the output folder cannot be written."""
    from seethink.storage import ensure_writable_dir

    return ensure_writable_dir(out, "output directory")


def _print_summary(summary: dict) -> None:
    rows = [(k, v) for k, v in summary.items() if k != "meta"]
    if not rows:  # a non-main process of a multi-process run: the main one reports
        return
    w = max(10, *(len(k) for k, _ in rows))  # names like 'staged@perception' must not shift columns
    sampled = all("sampled_accuracy" in s for _, s in rows)
    head = f"{'model':<{w}} {'accuracy':>8}" + (f"  {'sampled':>8}" if sampled else "")
    typer.echo("\n" + head + "  " + "  ".join(f"{c:>10}" for c in rows[0][1]["by_capability"]) + "  tokens")
    for name, s in rows:
        caps = "  ".join(f"{v['accuracy']:10.1f}" for v in s["by_capability"].values())
        samp = f"  {s['sampled_accuracy']:8.1f}" if sampled else ""
        typer.echo(f"{name:<{w}} {s['accuracy']:8.1f}{samp}  {caps}  {s['mean_response_tokens']:6.1f}")


def main() -> None:
    try:
        app()
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        from seethink.storage import disk_error, is_disk_error

        if not is_disk_error(exc):
            raise
        # A write we did not wrap (inside a library): name the file when the OS gave one.
        typer.echo(f"error: {disk_error(exc.filename or 'a file', exc)}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted; re-run the same command to resume", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
