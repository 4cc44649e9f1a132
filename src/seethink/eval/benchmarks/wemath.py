"""We-Math (testmini): loader, official answer extraction and the four-dimensional metrics.

Data: `testmini.json` is a list of 1,740 rows in 525 problem groups. A group (`ID`) is a
multi-step problem (`key` "2steps_multi" / "3steps_multi") plus its one-step sub-problems
("2steps_1", "2steps_2" / "3steps_1".."3steps_3"); 360 two-step and 165 three-step groups.

Results format (official): the testmini rows (a JSON list; JSONL also accepted) each with an
added `response`. Gold answers come from `testmini.json` in the data folder, matched on
(`ID`, `key`).

Rules, as in the official `evaluation/four_dimensional_metrics.py` and `accuracy.py`
(We-Math/We-Math):
* extraction: the text after the last "Answer" (case-sensitive; the whole response when absent),
  stripped, with every ">", "<", ":" and "." removed, stripped again; its first character if that
  is one of A-H, otherwise no answer. Correct when equal to the gold letter.
* per group, with s = the sub-problem verdicts and m = the multi-step verdict:
  IK (insufficient knowledge)     = not all(s) and not m
  IG (inadequate generalization)  = all(s) and not m
  CM strict / loose (mastery)     = m and all(s)      / m and any(s)
  RM strict / loose (rote memory) = m and not all(s)  / m and not any(s)
* score = (N - 0.5*IG - RM - IK) / N with N groups (the official script hard-codes N = 525, the
  full testmini; here N is the number of groups in the results file, which is 525 for a full run).
  Reported rates: IK, IG, CM as a share of N; RM as a share of the multi-step problems solved
  (RM / (CM + RM)), as the official table prints them.
* one-step accuracy over all sub-problems; two-/three-step accuracy over the multi-step problems.
* knowledge domains (`root2` of knowledge_structure_nodes.json): the mean over the domain's
  concepts of each concept's one-step accuracy (a macro average, as the official script does).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from seethink.errors import UserError
from seethink.utils import write_json

from ._common import Benchmark, image_paths, need, percent, read_json, read_jsonl, tally

SPLITS = ("testmini",)
MARKERS = ("testmini.json",)
_STEP_KEYS = {
    2: ("2steps_1", "2steps_2", "2steps_multi"),
    3: ("3steps_1", "3steps_2", "3steps_3", "3steps_multi"),
}
_OPTION_MARK = re.compile(r"(?:^|(?<=[;\s]))([A-H])\s*[.．](?!\s*(?:;|$))")

# ------------------------------------------------------------------ extraction


def extract_answer(response: str) -> str | None:
    """The official We-Math option letter for a response, or None."""
    tail = response.split("Answer")[-1].strip()
    tail = re.sub(r"[<>:.]", "", tail).strip()
    return tail[0] if tail and tail[0] in "ABCDEFGH" else None


def parse_options(option: str) -> tuple[list[str], list[str]]:
    """("A. 3; B. 4") -> (["3", "4"], ["A", "B"]). The source strings are hand-typed: labels are
    taken in increasing letter order, and a "C." directly followed by ";" (a figure named C in
    the text, as in "to get shape ;C.;") is not a label."""
    marks: list[re.Match[str]] = []
    for m in _OPTION_MARK.finditer(option):
        if (not marks and m.group(1) == "A") or (marks and m.group(1) > marks[-1].group(1)):
            marks.append(m)
    texts = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(option)
        texts.append(option[m.end() : end].strip().strip(";").strip())
    return texts, [m.group(1) for m in marks]


# ------------------------------------------------------------------ data


def _load(data_dir: Path, split: str | None = None) -> list[dict]:
    split = split or "testmini"
    if split not in SPLITS:
        raise UserError(f"wemath: unknown split {split!r} (known: {', '.join(SPLITS)})")
    path = Path(data_dir) / f"{split}.json"
    raw = read_json(path)
    if not isinstance(raw, list):
        raise UserError(f"{path}: expected a JSON list of rows (is this the We-Math folder?)")
    items = []
    for n, row in enumerate(raw, 1):
        where = f"{path}: row {n}"
        if not isinstance(row, dict):
            raise UserError(f"{where}: not a JSON object")
        group = need(row, "ID", where, str)
        key = need(row, "key", where, str)
        option = need(row, "option", where, str)
        texts, letters = parse_options(option)
        items.append(
            {
                "id": f"{group}/{key.rsplit('_', 1)[-1]}",
                "question": need(row, "question", where, str),
                "options": texts,
                "option_letters": letters,
                "option": option,
                "answer": need(row, "answer", where, str),
                "images": image_paths(Path(data_dir), [row.get("image_path")]),
                "image_path": row.get("image_path"),
                "group": group,
                "key": key,
                "knowledge_concept": need(row, "knowledge concept", where, str),
            }
        )
    _check_groups(items, str(path))
    return items


def _check_groups(items: list[dict], where: str) -> dict[str, dict[str, dict]]:
    """{group: {key: item}}; every group must hold exactly its sub-problems and its multi-step row."""
    groups: dict[str, dict[str, dict]] = defaultdict(dict)
    for it in items:
        if it["key"] in groups[it["group"]]:
            raise UserError(f"{where}: group {it['group']} has two rows with key {it['key']!r}")
        groups[it["group"]][it["key"]] = it
    for gid, rows in groups.items():
        steps = 3 if any(k.startswith("3steps") for k in rows) else 2
        expected = set(_STEP_KEYS[steps])
        if set(rows) != expected:
            missing = sorted(expected - set(rows))
            extra = sorted(set(rows) - expected)
            raise UserError(
                f"{where}: group {gid} is incomplete or mixed (missing keys {missing}, unexpected {extra})"
            )
    return groups


def _read_results(path: Path) -> list[dict]:
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    raw = read_json(path)
    if not isinstance(raw, list):
        raise UserError(f"{path}: expected a JSON list of testmini rows with a 'response' field")
    return raw


def judge(results_path: Path, data_dir: Path) -> list[dict]:
    """One verdict per results row: id, group, key, extracted, correct, knowledge_concept."""
    gold = {(it["group"], it["key"]): it for it in _load(data_dir)}
    verdicts = []
    for n, row in enumerate(_read_results(results_path), 1):
        where = f"{results_path}: row {n}"
        if not isinstance(row, dict):
            raise UserError(f"{where}: not a JSON object")
        gid, key = need(row, "ID", where, str), need(row, "key", where, str)
        item = gold.get((gid, key))
        if item is None:
            raise UserError(f"{where}: (ID {gid!r}, key {key!r}) is not in {data_dir / 'testmini.json'}")
        letter = extract_answer(need(row, "response", where, str))
        verdicts.append(
            {
                "id": item["id"],
                "group": gid,
                "key": key,
                "extracted": letter,
                "correct": letter == item["answer"],
                "knowledge_concept": item["knowledge_concept"],
            }
        )
    _check_groups(verdicts, str(results_path))
    return verdicts


# ------------------------------------------------------------------ metrics


def four_dimensional(verdicts: list[dict]) -> dict:
    """IK / IG / CM / RM counts, rates (percent) and the strict and loose scores."""
    groups = _check_groups(verdicts, "results")
    counts = dict.fromkeys(("IK", "IG", "CM_strict", "CM_loose", "RM_strict", "RM_loose"), 0)
    for rows in groups.values():
        multi = next(v["correct"] for k, v in rows.items() if k.endswith("multi"))
        steps = [v["correct"] for k, v in rows.items() if not k.endswith("multi")]
        every, some = all(steps), any(steps)
        counts["IK"] += (not every) and not multi
        counts["IG"] += every and not multi
        counts["CM_strict"] += multi and every
        counts["CM_loose"] += multi and some
        counts["RM_strict"] += multi and not every
        counts["RM_loose"] += multi and not some
    n = len(groups)

    def final(rm: int) -> float:
        return percent(n - 0.5 * counts["IG"] - rm - counts["IK"], n)

    return {
        **counts,
        "groups": n,
        "score_strict": final(counts["RM_strict"]),
        "score_loose": final(counts["RM_loose"]),
        "rates": {
            "IK": percent(counts["IK"], n),
            "IG": percent(counts["IG"], n),
            "CM_strict": percent(counts["CM_strict"], n),
            "CM_loose": percent(counts["CM_loose"], n),
            "RM_strict": percent(counts["RM_strict"], counts["CM_strict"] + counts["RM_strict"]),
            "RM_loose": percent(counts["RM_loose"], counts["CM_loose"] + counts["RM_loose"]),
        },
    }


def knowledge_domains(verdicts: list[dict], nodes: list[dict]) -> dict[str, dict]:
    """Per `root2` domain: the mean of its concepts' one-step accuracies (official macro average)."""
    concept_domain = {str(nd["full node"]).split("_")[-1]: nd["root2"] for nd in nodes}
    per_concept: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for v in verdicts:
        if not v["key"].endswith("multi") and v["knowledge_concept"] in concept_domain:
            c = per_concept[v["knowledge_concept"]]
            c[0] += v["correct"]
            c[1] += 1
    out: dict[str, dict] = {}
    for domain in dict.fromkeys(nd["root2"] for nd in nodes):  # nodes file order
        accs = [c / t for k, (c, t) in per_concept.items() if concept_domain[k] == domain]
        if accs:
            correct = sum(c for k, (c, _) in per_concept.items() if concept_domain[k] == domain)
            total = sum(t for k, (_, t) in per_concept.items() if concept_domain[k] == domain)
            out[domain] = {
                "accuracy": round(sum(accs) / len(accs) * 100, 2),
                "concepts": len(accs),
                "correct": correct,
                "total": total,
            }
    return out


def aggregate(verdicts: list[dict], nodes: list[dict] | None = None) -> dict:
    correct = sum(v["correct"] for v in verdicts)
    fd = four_dimensional(verdicts)
    one = [v["correct"] for v in verdicts if not v["key"].endswith("multi")]
    two = [v["correct"] for v in verdicts if v["key"] == "2steps_multi"]
    three = [v["correct"] for v in verdicts if v["key"] == "3steps_multi"]
    breakdown: dict[str, dict] = {"key": tally((v["key"], v["correct"]) for v in verdicts)}
    if nodes is not None:
        breakdown["knowledge_domain"] = knowledge_domains(verdicts, nodes)
    return {
        "benchmark": "wemath",
        "correct": correct,
        "total": len(verdicts),
        "accuracy": percent(correct, len(verdicts)),
        **{k: fd[k] for k in ("IK", "IG", "CM_strict", "CM_loose", "RM_strict", "RM_loose", "groups")},
        "score_strict": fd["score_strict"],
        "score_loose": fd["score_loose"],
        "one_step_acc": percent(sum(one), len(one)),
        "two_step_acc": percent(sum(two), len(two)),
        "three_step_acc": percent(sum(three), len(three)),
        "rates": fd["rates"],
        "breakdown": breakdown,
    }


def _score(results_path: Path, data_dir: Path) -> dict:
    """The metrics, with the knowledge-domain breakdown when the data folder holds the nodes."""
    nodes_path = Path(data_dir) / "knowledge_structure_nodes.json"
    nodes = read_json(nodes_path) if nodes_path.is_file() else None
    if nodes is not None and not (
        isinstance(nodes, list)
        and all(isinstance(n, dict) and "full node" in n and "root2" in n for n in nodes)
    ):
        raise UserError(f"{nodes_path}: expected a list of nodes with 'full node' and 'root2'")
    return aggregate(judge(results_path, data_dir), nodes)


def select_items(items: list[dict], limit: int) -> list[dict]:
    """The first `limit` items, rounded up to whole problem groups (scoring needs every group
    complete), groups taken in first-seen order and their rows in file order."""
    order: list[str] = []
    size: dict[str, int] = defaultdict(int)
    for it in items:
        if it["group"] not in size:
            order.append(it["group"])
        size[it["group"]] += 1
    chosen: set[str] = set()
    count = 0
    for gid in order:
        if count >= limit:
            break
        chosen.add(gid)
        count += size[gid]
    return [it for it in items if it["group"] in chosen]


def write_results(items: list[dict], responses: list[str], path: str | Path) -> Path:
    """The official results format: the testmini rows (a JSON list), each with `response`."""
    rows = [
        {
            "ID": it["group"],
            "key": it["key"],
            "knowledge concept": it["knowledge_concept"],
            "question": it["question"],
            "option": it["option"],
            "answer": it["answer"],
            "image_path": it.get("image_path"),
            "response": r,
        }
        for it, r in zip(items, responses, strict=True)
    ]
    write_json(path, rows)
    return Path(path)


BENCHMARK = Benchmark(
    name="wemath",
    load=_load,
    judge=judge,
    aggregate=aggregate,
    markers=MARKERS,
    splits=SPLITS,
    description="We-Math testmini: 525 multi-step problem groups, four-dimensional metrics",
    scorer=_score,
    results_file="results.json",
    write_results=write_results,
    select_items=select_items,
)
