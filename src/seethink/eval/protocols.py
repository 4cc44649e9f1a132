"""Evaluation protocols for real benchmarks: `unified` (ours) and `paper` (the paper's own).

unified: every model, base or trained, gets the same user turn, our reasoning prompt
  (`{question}{options}` + "Think in <think></think>, then answer in \\boxed{}."), no system
  prompt, on the benchmark's default split; answers are scored by the rule-based official
  scorers (`seethink score`).
paper: the paper's evaluation as far as it is specified in the release we follow:
  * its splits, by their VLMEvalKit names (`PAPER_SPLITS`): MathVista_MINI = mathvista
    testmini, MathVision_MINI = mathvision testmini, MathVerse_MINI_Vision_Intensive =
    mathverse testmini restricted to the "Vision Intensive" version, WeMath = wemath testmini,
    ...; a name with no local loader (LogicVista, DynaMath, ...) is a clear error;
  * the benchmark's question and options as the user turn, with no format instruction; trained
    models get the reasoning instruction as a *system* prompt (`eval.paper_system_prompt`, our
    own wording unless set), base models no system prompt at all;
  * the LLM judge step where the official pipeline has one (MathVista extraction, MathVerse
    extract-and-match, HallusionBench yes/no reading) through `eval.judge_base_url` /
    `eval.judge_model` (`seethink.eval.judge`), then the official scorer on the judged file.
Which protocol produced a number is recorded in every metrics file and the run's summary.
"""

from __future__ import annotations

from dataclasses import dataclass

from seethink.errors import UserError

PROTOCOLS = ("unified", "paper")
# Benchmarks whose official pipeline has an LLM step (our judge functions in seethink.eval.judge).
JUDGED = ("mathvista", "mathverse", "hallusionbench")
# Our wording: the release's system prompt is not reproduced here verbatim.
PAPER_SYSTEM_PROMPT = ("You are a helpful assistant. First think about the reasoning process in the mind "
                       "inside <think></think>, then give the final answer in \\boxed{}.")
PAPER_TEMPLATE = "plain"  # {question}{options}, nothing else


@dataclass(frozen=True)
class Split:
    """One evaluated set: our benchmark loader, its split, and an item filter."""

    name: str  # how results are named: the folder under bench/ and the capability bench:NAME
    benchmark: str  # seethink.eval.benchmarks name (data_root/BENCHMARK holds its files)
    split: str | None = None
    where: tuple[tuple[str, str], ...] = ()  # (item field, value) pairs an item must match

    def select(self, items: list[dict]) -> list[dict]:
        return [it for it in items if all(str(it.get(k)) == v for k, v in self.where)]


_VERSIONS = {"Vision_Intensive": "Vision Intensive", "Vision_Dominant": "Vision Dominant",
             "Vision_Only": "Vision Only", "Text_Dominant": "Text Dominant", "Text_Lite": "Text Lite"}

PAPER_SPLITS: dict[str, Split] = {
    "MathVista_MINI": Split("MathVista_MINI", "mathvista", "testmini"),
    "MathVision_MINI": Split("MathVision_MINI", "mathvision", "testmini"),
    "MathVision": Split("MathVision", "mathvision", "test"),
    "MathVerse_MINI": Split("MathVerse_MINI", "mathverse", "testmini"),
    **{f"MathVerse_MINI_{k}": Split(f"MathVerse_MINI_{k}", "mathverse", "testmini", (("problem_version", v),))
       for k, v in _VERSIONS.items()},
    "WeMath": Split("WeMath", "wemath", "testmini"),
    "HallusionBench": Split("HallusionBench", "hallusionbench"),
    "MMStar": Split("MMStar", "mmstar"),
    "RealWorldQA": Split("RealWorldQA", "realworldqa"),
    "POPE": Split("POPE", "pope"),
    "CV-Bench": Split("CV-Bench", "cvbench"),
}
# The paper's set for each of our loaders, where a bare name is given under protocol paper.
PAPER_DEFAULT = {"mathvista": "MathVista_MINI", "mathvision": "MathVision_MINI",
                 "mathverse": "MathVerse_MINI_Vision_Intensive", "wemath": "WeMath",
                 "hallusionbench": "HallusionBench", "mmstar": "MMStar", "realworldqa": "RealWorldQA",
                 "pope": "POPE", "cvbench": "CV-Bench"}
# Sets the paper reports that no loader here reads.
NO_LOADER = ("LogicVista", "DynaMath", "MMMU_DEV_VAL", "MMMU", "MathVerse_MINI_Vision_Only_CoT", "OlympiadBench",
             "MME", "MMBench", "ChartQA", "AI2D")


def resolve(name: str, protocol: str = "unified") -> Split:
    """The set a configured benchmark name stands for under `protocol`."""
    from seethink.eval.benchmarks import BENCHMARKS

    if protocol not in PROTOCOLS:
        raise UserError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
    if protocol == "paper":
        if name in PAPER_SPLITS:
            return PAPER_SPLITS[name]
        if name in PAPER_DEFAULT:
            return PAPER_SPLITS[PAPER_DEFAULT[name]]
        if name in NO_LOADER:
            raise UserError(f"benchmark {name!r} (protocol paper): no loader here reads it; "
                            f"available: {', '.join(PAPER_SPLITS)}")
        raise UserError(f"unknown benchmark {name!r} for protocol paper; choose from {', '.join(PAPER_SPLITS)} "
                        f"(or our names: {', '.join(PAPER_DEFAULT)})")
    if name in PAPER_SPLITS and name not in BENCHMARKS:
        raise UserError(f"benchmark {name!r} is a split name of protocol paper; under protocol unified use "
                        f"{PAPER_SPLITS[name].benchmark!r} (or set eval.protocol=paper)")
    if name not in BENCHMARKS:
        import difflib

        near = difflib.get_close_matches(name, BENCHMARKS.names(), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise UserError(f"unknown benchmark {name!r}{hint} (known: {', '.join(BENCHMARKS.names())})")
    return Split(name, name)


def needs_judge(names: list[str], protocol: str) -> list[str]:
    """The configured sets whose paper protocol has an LLM judge step."""
    if protocol != "paper":
        return []
    return [n for n in names if resolve(n, protocol).benchmark in JUDGED]


def system_prompt(protocol: str, is_base: bool, custom: str = "") -> str | None:
    """The system prompt a model gets under `protocol` (None: none)."""
    if protocol != "paper" or is_base:
        return None
    return custom or PAPER_SYSTEM_PROMPT


def template(protocol: str) -> str | None:
    """The user-turn template (None: our unified reasoning prompt)."""
    return PAPER_TEMPLATE if protocol == "paper" else None


__all__ = ["JUDGED", "PAPER_SPLITS", "PROTOCOLS", "Split", "needs_judge", "resolve", "system_prompt", "template"]
