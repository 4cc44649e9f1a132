"""The reward files of an EasyR1 export (`seethink.data.easyr1`): OUT/reward.py and the package
beside it holding copies of seethink's reward modules, so that EasyR1 scores as seethink's trainer
does without seethink installed.
"""

from __future__ import annotations

import ast
import inspect
import re
from typing import Any

REWARD_FILE = "reward.py"
REWARD_FUNCTION = "compute_score"
VENDOR_PKG = "_seethink_rewards"  # the folder beside reward.py holding seethink's reward modules
# seethink.rewards.core's parts that reward.py scores with, exactly as seethink's trainer does
CORE_PARTS = ("accuracy_reward", "format_reward")


def _code_names(code: Any) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _code_names(const)
    return names


def _rewards_imports(source: str, where: str) -> set[str]:
    """The seethink.rewards modules a module imports; any other seethink import is refused."""
    import importlib.util

    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "seethink":
            if node.module.startswith("seethink.rewards.") and node.module.count(".") == 2:
                out.add(node.module.rsplit(".", 1)[1])
                continue
            if node.module == "seethink.rewards":  # `from seethink.rewards import module`
                for alias in node.names:
                    if importlib.util.find_spec(f"seethink.rewards.{alias.name}") is None:
                        raise RuntimeError(f"{where} imports seethink.rewards.{alias.name}, which is no module")
                    out.add(alias.name)
                continue
            raise RuntimeError(f"{where} imports {node.module}; reward.py must stand alone (seethink.rewards only)")
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "seethink" for a in node.names):
            raise RuntimeError(f"{where} imports seethink; reward.py must stand alone")
    return out


def _core_functions() -> tuple[dict[str, Any], set[str], set[str]]:
    """The `seethink.rewards.core` functions reward.py carries (CORE_PARTS and the core functions they
    call), the header lines defining what they use from elsewhere, and the seethink.rewards modules
    those imports come from."""
    from seethink.rewards import core

    fns: dict[str, Any] = {}
    header: set[str] = set()
    modules: set[str] = set()
    todo = list(CORE_PARTS)
    while todo:
        name = todo.pop()
        if name in fns:
            continue
        fn = getattr(core, name)
        fns[name] = fn
        for ref in sorted(_code_names(fn.__code__) & set(vars(core))):
            obj = vars(core)[ref]
            mod = str(getattr(obj, "__module__", ""))
            if inspect.isfunction(obj) and mod == core.__name__:
                todo.append(ref)
            elif inspect.isfunction(obj) and mod.startswith("seethink.rewards."):
                modules.add(mod.rsplit(".", 1)[1])
                header.add(f"from {VENDOR_PKG}.{mod.rsplit('.', 1)[1]} import {ref}")
            elif isinstance(obj, re.Pattern):
                header.add(f"{ref} = re.compile({obj.pattern!r}, {int(obj.flags)})")
            elif isinstance(obj, (str, int, float, tuple)):
                header.add(f"{ref} = {obj!r}")
            elif not (inspect.ismodule(obj) or obj is Any):
                raise RuntimeError(f"reward.py cannot carry seethink.rewards.core.{ref} ({type(obj).__name__})")
    return fns, header, modules


def _vendored_modules(modules: set[str]) -> dict[str, str]:
    """The VENDOR_PKG package: `modules` and the seethink.rewards modules they import, copied by
    source with their seethink.rewards imports made package-relative."""
    import importlib

    files: dict[str, str] = {f"{VENDOR_PKG}/__init__.py": '"""seethink.rewards modules, copied by seethink data '
                             'export-easyr1 for reward.py."""\n'}
    todo = sorted(modules)
    while todo:
        name = todo.pop()
        key = f"{VENDOR_PKG}/{name}.py"
        if key in files:
            continue
        src = inspect.getsource(importlib.import_module(f"seethink.rewards.{name}"))
        deps = _rewards_imports(src, f"seethink.rewards.{name}")
        todo += sorted(deps)
        src = re.sub(r"^(\s*)from seethink\.rewards\.(\w+) import", r"\1from .\2 import", src, flags=re.M)
        src = re.sub(r"^(\s*)from seethink\.rewards import", r"\1from . import", src, flags=re.M)
        # Module names in strings too (a worker process started with `-c "from seethink.rewards.X ..."`).
        src = re.sub(r"\bseethink\.rewards\.", f"{VENDOR_PKG}.", src)
        files[key] = src
    return files


# reward.py, a str.format template: VENDOR_PKG, REWARD_FUNCTION, header (the names the core
# functions use from elsewhere) and parts (the core functions' source).
_REWARD_PY = '''"""seethink's reward for EasyR1, written by `seethink data export-easyr1`.

EasyR1 calls `{REWARD_FUNCTION}(reward_inputs, **worker.reward.reward_function_kwargs)` with one
dict per response (`response`, `response_length`, `ground_truth`) and logs every key returned.
Score = accuracy_weight x accuracy + format_weight x format, as seethink's trainer scores:
  accuracy: multiple choice (options in the ground truth): the boxed letter, `(B)`, `B.` or the
            option's own text names the right option; otherwise the boxed answer equals the
            answer as math (numbers, fractions, LaTeX via math-verify when installed);
  format:   one <think>...</think>, then an answer holding a box.
The ground truth is the export's JSON ({{"answer": ..., "options": [...]}}) or a plain answer.
Standalone: seethink's reward modules are copied into {VENDOR_PKG}/ beside this file.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

REWARD_NAME = "seethink"
REWARD_TYPE = "batch"

_HERE = os.path.dirname(os.path.abspath(__file__))
for _name in [m for m in sys.modules if m == "{VENDOR_PKG}" or m.startswith("{VENDOR_PKG}.")]:
    if not str(getattr(sys.modules[_name], "__file__", "")).startswith(_HERE + os.sep):
        del sys.modules[_name]  # another export's copy, loaded earlier in this process
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

{header}


# ---- seethink.rewards.core
{parts}

# ---- without math-verify (not an EasyR1 requirement), mathruler grades what is not a plain number:
# it takes the place of the symbolic check (the sandbox's `check`, or mathcheck's `_verify`)
try:
    import math_verify  # noqa: F401
except ImportError:
    import importlib

    def _mathruler_check(p: str, g: str, *_: Any, **__: Any) -> bool:
        try:
            from mathruler.grader import grade_answer

            return bool(grade_answer(p, g))
        except Exception:
            return False

    for _mod, _fn in (("sandbox", "check"), ("mathcheck", "_verify")):
        try:
            _m = importlib.import_module("{VENDOR_PKG}." + _mod)
        except ImportError:
            continue
        if hasattr(_m, _fn):
            setattr(_m, _fn, _mathruler_check)


def _item(ground_truth: Any) -> dict:
    if isinstance(ground_truth, dict):
        return ground_truth
    try:
        obj = json.loads(ground_truth)
    except (TypeError, ValueError):
        obj = None
    if isinstance(obj, dict) and "answer" in obj:
        return obj
    return {{"answer": str(ground_truth)}}


def _part(name: str, fn: Any, *args: Any, **kwargs: Any) -> float:
    try:
        return float(fn(*args, **kwargs)[name])
    except Exception:  # a bad item or an extraction bug scores 0, as in seethink's trainer
        return 0.0


def {REWARD_FUNCTION}(reward_inputs: list, accuracy_weight: float = 0.9, format_weight: float = 0.1,
                  timeout_s: float = 5.0) -> list:
    scores = []
    for inp in reward_inputs:
        response = str(inp["response"])
        item = _item(inp["ground_truth"])
        acc = _part("accuracy", accuracy_reward, response, item, timeout_s=timeout_s)
        fmt = _part("format", format_reward, response)
        scores.append({{"overall": accuracy_weight * acc + format_weight * fmt, "accuracy": acc, "format": fmt}})
    return scores
'''


def reward_files() -> dict[str, str]:
    """`reward.py` and its vendored package: seethink's accuracy + format reward as an EasyR1 batch
    reward function, importable in EasyR1's environment without seethink.

    The parts are seethink's own (`seethink.rewards.core.accuracy_reward` and `format_reward`, and
    the modules they call, copied by source with their `seethink.rewards.X` imports made
    package-relative and other mentions of `seethink.rewards.X` renamed to the copy, e.g. the math
    sandbox's worker command), so the export always scores as this version of seethink does. Where
    math-verify is not installed, expressions that are not plain numbers fall back to mathruler's
    grade_answer (an EasyR1 requirement).
    """
    fns, header, modules = _core_functions()
    files = _vendored_modules(modules)
    parts = "\n\n".join(inspect.getsource(fn) for _, fn in sorted(fns.items()))
    files[REWARD_FILE] = _REWARD_PY.format(VENDOR_PKG=VENDOR_PKG, REWARD_FUNCTION=REWARD_FUNCTION,
                                           header="\n".join(sorted(header)), parts=parts)
    _rewards_imports(files[REWARD_FILE], REWARD_FILE)  # no seethink import left
    return files
