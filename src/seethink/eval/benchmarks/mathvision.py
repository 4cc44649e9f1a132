"""MATH-Vision (MATH-V): loader and the official rule-based scorer.

Results format (official `outputs/NAME.jsonl`): one JSON object per line with `id` and `response`
(a `model_answer` field is used only when `response` is absent; the official scorer always
re-extracts). Gold answers, subjects and levels come from `test.jsonl` in the data folder
(`testmini.jsonl` when `test.jsonl` is absent).

Scoring follows the official evaluation scripts (mathllm/MATH-V, `evaluation/`):
1. the answer is pulled out of the response by fixed string rules (`extract_answer`);
2. it is compared with the gold answer and, for multiple choice, with the gold option's text:
   equal after lower-casing, or equal after tuples are evaluated element-wise, or equal numbers
   after rounding to 2 decimals (`is_equivalent`, numbers from `_latex_value`).
The aggregate mirrors the official `NAME_result.json`: "-all", "-levelN", "subject",
"subject_levelN" and "-levelN_subject", each "correct/total=pct%".
"""

from __future__ import annotations

from pathlib import Path

from seethink.errors import UserError

from ._common import Benchmark, image_paths, need, percent, read_jsonl, tally
from ._latex_value import rounded, value

SPLITS = ("testmini", "test")
MARKERS = ("test.jsonl", "testmini.jsonl")

# ------------------------------------------------------------------ answer extraction

_PHRASES = ("the final answer is", "the answer is", "the correct answer is", "the answer should be")


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def extract_answer(response: str) -> str:
    """The official MATH-V answer string for a response (lower-case, LaTeX lightly normalised)."""
    s = response.strip()
    # A response that is (or starts with) a bare option letter means that letter.
    for c in "ABCDE":
        if (
            s.endswith(f" {c}.")
            or s.endswith(f" ({c}).")
            or s.startswith(f"{c}\n")
            or s.startswith(f"({c})\n")
            or s.startswith(f"({c}) {c}\n")
        ):
            s = c
    tail = s.split("is ")[-1].rstrip(".")
    if _is_float(tail):  # "... the answer is 12." -> "12"
        s = tail
    if "oxed{" not in s:
        # Keep what follows the last answer phrase, up to the end of that line / sentence.
        # Each phrase is tried in lower case, then capitalised, on the text left so far.
        for phrase in _PHRASES:
            for variant in (phrase, phrase.replace("the", "The")):
                found = variant in s
                s = s.split(variant)[-1].strip()
                if found:
                    s = s.split("\n")[0].split(". ")[0]
    elif s.count("oxed{") > 1:
        s = "\\boxed{" + s.split("oxed{")[-1]  # only the last box counts
    s = _final_answer_text(s)
    for c in "abcde":
        s = s.replace(f"({c})", c)
    for c in "abcde":
        s = s.replace(f"{{{c}}}", c)
    return s.rstrip(".").lstrip(":").strip()


def _final_answer_text(s: str) -> str:
    s = s.lower().replace("{}", "")
    # Box content: from the first "oxed{" to the last "}" in the text (a greedy match).
    start, end = s.find("oxed{"), s.rfind("}")
    ans = s[start + 5 : end] if start >= 0 and end >= start + 5 else s
    # A "}" before any "{" closes something outside: cut there.
    close, open_ = ans.find("}"), ans.find("{")
    if close != -1 and (open_ == -1 or close < open_):
        ans = ans.split("}")[0]
    ans = ans.split("=")[-1].split("\\approx")[-1]
    for a, b in (
        (" ", ""),
        ("\\,", ""),
        ("∞", "\\infty"),
        ("+\\infty", "\\infty"),
        ("\\\\", "\\"),
        ("\n", ""),
        ("\\text", ""),
        ("\\mbox", ""),
        ("bmatrix", "pmatrix"),
        ("\\left", ""),
        ("\\right", ""),
        ("^{\\circ}", ""),
        ("^\\circ", ""),
        ("{m}^3", ""),
        ("m^3", ""),
        ("{units}", ""),
        ("units", ""),
        ("{km}", ""),
        ("km", ""),
    ):
        ans = ans.replace(a, b)
    return _strip_string(ans)


def _strip_string(s: str) -> str:
    """MATH-style normalisation (the official helper of the same purpose)."""
    for a, b in (
        ("\n", ""),
        ("\\!", ""),
        ("\\\\", "\\"),
        ("tfrac", "frac"),
        ("dfrac", "frac"),
        ("\\left", ""),
        ("\\right", ""),
        ("^{\\circ}", ""),
        ("^\\circ", ""),
        ("\\$", ""),
        ("$", ""),
    ):
        s = s.replace(a, b)
    s = s.split("\\text{ ")[0]  # drop a trailing unit
    s = s.replace("\\%", "").replace(" .", " 0.").replace("{.", "{0.")
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    if s.count("=") == 1:
        s = s.split("=")[-1]
    if s.count("\\approx") == 1:
        s = s.split("\\approx")[-1]
    if "sqrt" in s:
        s = _brace_sqrt(s)
    s = s.replace(" ", "")
    if "sqrt" in s:  # the official helper only repairs \frac when a sqrt is present
        s = _brace_frac(s)
    if s == "0.5":
        s = "\\frac{1}{2}"
    return _slash_to_frac(s)


def _brace_sqrt(s: str) -> str:
    """\\sqrt3 -> \\sqrt{3} (one character)."""
    head, *rest = s.split("\\sqrt")
    out = head
    for part in rest:
        out += "\\sqrt{" + part[0] + "}" + part[1:] if part and part[0] != "{" else "\\sqrt" + part
    return out


def _brace_frac(s: str) -> str:
    """\\frac12 -> \\frac{1}{2}, \\frac1{2} -> \\frac{1}{2}; gives up on a too-short tail."""
    head, *rest = s.split("\\frac")
    out = head
    for part in rest:
        out += "\\frac"
        if part and part[0] == "{":
            out += part
            continue
        if len(part) < 2:
            return s
        a, b, tail = part[0], part[1], part[2:]
        out += "{" + a + "}{" + b + "}" + tail if b != "{" else "{" + a + "}" + b + tail
    return out


def _slash_to_frac(s: str) -> str:
    """ "3/4" -> "\\frac{3}{4}" for plain integers only."""
    if s.count("/") != 1:
        return s
    a, b = s.split("/")
    try:
        ia, ib = int(a), int(b)
    except ValueError:
        return s
    return f"\\frac{{{ia}}}{{{ib}}}" if s == f"{ia}/{ib}" else s


# ------------------------------------------------------------------ comparison


def _tuple_form(s: str) -> str:
    """ "(a,b)" / "[a,b]" with each element replaced by its value rounded to 2 decimals; the
    string unchanged when it is not such a tuple or any element fails to evaluate."""
    if len(s) < 2 or (s[0], s[-1]) not in (("(", ")"), ("[", "]")):
        return s
    parts = s[1:-1].split(",")
    if len(parts) < 2:
        return s
    out = []
    for p in parts:
        if "infty" in p or p in ("a", "-a"):
            out.append(p)
            continue
        v = value(p)
        if v is None:
            return s
        out.append(str(round(v, 2)))
    return s[0] + ",".join(out) + s[-1]


def is_equivalent(gold: str, pred: str) -> bool:
    """The official MATH-V equality test between a gold string and an extracted answer."""
    a, b = gold.lower(), pred.lower()
    if not a.replace(" ", "") or not b.replace(" ", ""):
        return False
    if a.strip() == b.strip():
        return True
    a, b = _tuple_form(a), _tuple_form(b)
    if a == b:
        return True
    x = rounded(a)
    if x is None:
        return False
    y = rounded(b)
    return y is not None and x == y


def gold_option_text(item: dict) -> str:
    """For a multiple-choice item, the text of the gold option ('' otherwise)."""
    options = item["options"]
    if not options:
        return ""
    idx = ord(item["answer"][:1] or "?") - ord("A")
    if len(item["answer"]) != 1 or not 0 <= idx < len(options):
        raise UserError(f"mathvision item {item['id']}: answer {item['answer']!r} is not an option letter")
    return options[idx]


def is_correct(item: dict, model_answer: str) -> bool:
    return is_equivalent(item["answer"], model_answer) or is_equivalent(gold_option_text(item), model_answer)


# ------------------------------------------------------------------ data


def _load(data_dir: Path, split: str | None = None) -> list[dict]:
    split = split or "testmini"
    if split not in SPLITS:
        raise UserError(f"mathvision: unknown split {split!r} (known: {', '.join(SPLITS)})")
    path = Path(data_dir) / f"{split}.jsonl"
    items = []
    for n, row in enumerate(read_jsonl(path), 1):
        where = f"{path}: row {n}"
        options = need(row, "options", where, list)
        answer = need(row, "answer", where)
        items.append(
            {
                "id": str(need(row, "id", where)),
                "question": need(row, "question", where, str),
                "options": [str(o) for o in options],
                "answer": str(answer),
                "images": image_paths(Path(data_dir), [row.get("image")]),
                "image": row.get("image"),
                "level": need(row, "level", where, int),
                "subject": need(row, "subject", where, str),
                "solution": row.get("solution"),
            }
        )
    return items


def _gold(data_dir: Path) -> dict[str, dict]:
    split = "test" if (data_dir / "test.jsonl").is_file() else "testmini"
    return {it["id"]: it for it in _load(data_dir, split)}


def judge(results_path: Path, data_dir: Path) -> list[dict]:
    """One verdict per results row: id, model_answer, correct, level, subject."""
    gold = _gold(data_dir)
    verdicts = []
    for n, row in enumerate(read_jsonl(results_path), 1):
        where = f"{results_path}: row {n}"
        rid = str(need(row, "id", where, (str, int)))
        if rid not in gold:
            raise UserError(f"{where}: id {rid!r} is not in the MATH-Vision gold file of {data_dir}")
        item = gold[rid]
        if "response" in row:
            answer = extract_answer(str(need(row, "response", where, str)))
        elif "model_answer" in row:
            answer = str(need(row, "model_answer", where, (str, int, float)))
        else:
            raise UserError(f"{where}: missing field 'response'")
        verdicts.append(
            {
                "id": rid,
                "model_answer": answer,
                "correct": is_correct(item, answer),
                "level": item["level"],
                "subject": item["subject"],
            }
        )
    return verdicts


def aggregate(verdicts: list[dict]) -> dict:
    correct = sum(v["correct"] for v in verdicts)
    total = len(verdicts)
    official: dict[str, list[int]] = {}
    for v in verdicts:
        lvl, subj = f"level{v['level']}", v["subject"]
        for key in ("-all", f"-{lvl}", subj, f"{subj}_{lvl}", f"-{lvl}_{subj}"):
            c = official.setdefault(key, [0, 0])
            c[0] += v["correct"]
            c[1] += 1
    return {
        "benchmark": "mathvision",
        "correct": correct,
        "total": total,
        "accuracy": percent(correct, total),
        "breakdown": {
            "level": dict(sorted(tally((f"level{v['level']}", v["correct"]) for v in verdicts).items())),
            "subject": dict(sorted(tally((v["subject"], v["correct"]) for v in verdicts).items())),
            "subject_level": dict(
                sorted(tally((f"{v['subject']}_level{v['level']}", v["correct"]) for v in verdicts).items())
            ),
        },
        # The official `_result.json`, key for key and string for string.
        "official": {
            k: f"{c}/{t}={round(c / max(t, 1) * 100, 2)}%" for k, (c, t) in sorted(official.items())
        },
    }


BENCHMARK = Benchmark(
    name="mathvision",
    load=_load,
    judge=judge,
    aggregate=aggregate,
    markers=MARKERS,
    splits=SPLITS,
    description="MATH-Vision (MATH-V): 3,040 competition problems, rule-based official scoring",
)
