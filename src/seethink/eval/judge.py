"""An optional LLM judge through any OpenAI-compatible chat endpoint, with an on-disk cache.

Official pipelines use an LLM where rules fall short (MathVista answer extraction). This
module calls `POST {base_url}/chat/completions` with the standard library only. The API key
is read from an environment variable whose *name* the user gives; the key itself is never
written to a file, a log line or an error message. Every judgment is cached in a JSONL file
keyed by (model, prompt), so re-scoring costs nothing and an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seethink.errors import UserError
from seethink.utils import append_jsonl, iter_jsonl, write_json

# Our own wording of the extraction task (the official prompt is few-shot GPT-4; this is zero-shot).
MATHVISTA_EXTRACT = """You read a model's answer to a math question about an image and copy out its final answer.
Reply with the final answer only: an option letter for multiple choice, otherwise a number or
a short list, with no words or units. Reply with NONE if the response gives no answer.

Question: {question}
{choices}
Model response: {response}
Final answer:"""


@dataclass
class Judge:
    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    cache_path: Path | None = None
    timeout_s: float = 60.0
    max_tokens: int = 32

    def __post_init__(self) -> None:
        self._cache: dict[str, str] = {}
        if self.cache_path is not None and Path(self.cache_path).is_file():
            for row in iter_jsonl(self.cache_path):
                self._cache[row["key"]] = row["answer"]

    def _key(self, prompt: str) -> str:
        return hashlib.sha256(f"{self.model}\n{prompt}".encode()).hexdigest()

    def ask(self, prompt: str) -> str:
        key = self._key(prompt)
        if key in self._cache:
            return self._cache[key]
        answer = self._post(prompt)
        self._cache[key] = answer
        if self.cache_path is not None:
            append_jsonl(self.cache_path, {"key": key, "model": self.model, "answer": answer})
        return answer

    def _post(self, prompt: str) -> str:
        api_key = os.environ.get(self.api_key_env, "")
        body = json.dumps({
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "max_tokens": self.max_tokens,
        }).encode()
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        req = urllib.request.Request(self.base_url.rstrip("/") + "/chat/completions", data=body, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                data: Any = json.loads(resp.read().decode())
        except urllib.error.HTTPError as exc:  # the message names the status, never the key
            raise UserError(f"judge endpoint {self.base_url} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError) as exc:
            raise UserError(f"judge endpoint {self.base_url} unreachable: {getattr(exc, 'reason', exc)}") from None
        try:
            return str(data["choices"][0]["message"]["content"]).strip()
        except (KeyError, IndexError, TypeError):
            raise UserError(f"judge endpoint {self.base_url}: unexpected reply shape") from None


def judge_mathvista(results_path: str | Path, out_path: str | Path, judge: Judge,
                    data_dir: str | Path | None = None) -> dict:
    """Fill `extraction` for rows that lack it, as the official pipeline's LLM step does."""
    from seethink.eval.benchmarks import load
    from seethink.eval.benchmarks._common import read_json

    src = Path(results_path)
    rows = read_json(src)
    if not isinstance(rows, dict):
        raise UserError(f"{src}: expected the MathVista results dict pid -> row")
    items = {it["id"]: it for it in load("mathvista", data_dir or src.parent.parent)}
    asked = 0
    for pid, row in rows.items():
        if not isinstance(row, dict) or "extraction" in row:
            continue
        item = items.get(str(pid), {})
        choices = item.get("options") or []
        prompt = MATHVISTA_EXTRACT.format(
            question=item.get("question", row.get("question", "")),
            choices="Choices: " + "; ".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(choices)) if choices else "",
            response=str(row.get("response", "")),
        )
        answer = judge.ask(prompt)
        row["extraction"] = "" if answer.upper() == "NONE" else answer
        asked += 1
    write_json(out_path, rows)
    return {"rows": len(rows), "judged": asked}


# Our own wording of MathVerse's two official steps (extract, then judge against the answer).
MATHVERSE_EXTRACT = """You read a model's answer to a math problem and copy out its final answer.
Reply with the final answer only (an option letter, a number or an expression), or NONE if
the response gives no answer.

Problem: {question}
Model response: {response}
Final answer:"""

MATHVERSE_MATCH = """Decide whether a model's final answer to a math problem is equivalent to the
reference answer. For multiple choice, the option letter or the option's content both count.
Reply with 1 if equivalent, 0 if not, and nothing else.

Problem: {question}
Reference answer: {answer}
Model's answer: {extraction}
Equivalent (1 or 0):"""

HALLUSION_READ = """A model answered a yes/no question. Read its answer and reply with one word:
yes, no, or unclear (when it says neither, or both).

Question: {question}
Model response: {response}
Reply:"""


def _results_rows(src: Path, fields: tuple[str, ...]) -> list[dict]:
    from seethink.eval.benchmarks._formats import read_results

    rows = [row for _, row in read_results(src)]
    for n, row in enumerate(rows, 1):
        if not any(isinstance(row.get(f), str) for f in fields):
            raise UserError(f"{src}: row {n}: needs a text field ({' / '.join(fields)})")
    return rows


def _write_rows(src: Path, out_path: str | Path, rows: list[dict]) -> None:
    """The judged rows in the input's own layout (JSONL stays JSONL)."""
    from seethink.utils import write_jsonl

    if src.suffix == ".jsonl":
        write_jsonl(out_path, rows)
    else:
        write_json(out_path, rows)


def judge_mathverse(results_path: str | Path, out_path: str | Path, judge: Judge,
                    data_dir: str | Path | None = None) -> dict:
    """Fill `extraction` and a 0/1 `judgement` for rows that lack them."""
    from seethink.eval.benchmarks import load

    src = Path(results_path)
    rows = _results_rows(src, ("response", "model_answer", "extraction"))
    items = {it["id"]: it for it in load("mathverse", data_dir or src.parent)}
    asked = 0
    for n, row in enumerate(rows, 1):
        key = str(row.get("id", row.get("sample_index", "")))
        item = items.get(key)
        if item is None:
            raise UserError(f"{src}: row {n}: id {key!r} is not a MathVerse item in the data folder")
        question = item.get("question_for_eval") or item["question"]
        if not isinstance(row.get("extraction"), str):
            response = row.get("response", row.get("model_answer", ""))
            answer = judge.ask(MATHVERSE_EXTRACT.format(question=question, response=response)).strip()
            row["extraction"] = "" if answer.upper() == "NONE" else answer
            asked += 1
        if row.get("judgement") not in (0, 1, "0", "1"):
            verdict = judge.ask(MATHVERSE_MATCH.format(question=question, answer=item["answer"],
                                                       extraction=row["extraction"]))
            row["judgement"] = 1 if verdict.strip().startswith("1") else 0
            asked += 1
    _write_rows(src, out_path, rows)
    return {"rows": len(rows), "judged": asked}


def judge_hallusionbench(results_path: str | Path, out_path: str | Path, judge: Judge,
                         data_dir: str | Path | None = None) -> dict:
    """Fill `judgement` ("1" yes, "0" no, "2" unclear) for rows that lack it."""
    from seethink.eval.benchmarks import load

    src = Path(results_path)
    fields = ("prediction", "response", "model_prediction")
    rows = _results_rows(src, fields)
    items = {it["id"]: it for it in load("hallusionbench", data_dir or src.parent)}
    keys = ("category", "subcategory", "set_id", "figure_id", "question_id")
    asked = 0
    for n, row in enumerate(rows, 1):
        if row.get("judgement") in ("0", "1", "2"):
            continue
        key = "_".join(str(row[k]) for k in keys) if all(k in row for k in keys) else str(row.get("id", ""))
        item = items.get(key)
        if item is None:
            raise UserError(f"{src}: row {n}: id {key!r} is not a HallusionBench question in the data folder")
        text = next(row[f] for f in fields if isinstance(row.get(f), str))
        word = judge.ask(HALLUSION_READ.format(question=item["question"], response=text)).strip().lower()
        row["judgement"] = "1" if word.startswith("yes") else "0" if word.startswith("no") else "2"
        asked += 1
    _write_rows(src, out_path, rows)
    return {"rows": len(rows), "judged": asked}


# ---------------------------------------------------------------- prompt files for LLM steps

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def load_prompt(name_or_path: str | Path, required: tuple[str, ...] = ()) -> str:
    """An LLM prompt template: a packaged file (`seethink/data/prompts/NAME.txt`) by name, or a
    user's file by path. Placeholders are `{name}`; every one in `required` must be present."""
    from importlib import resources

    text: str
    p = Path(str(name_or_path)).expanduser()
    if p.suffix == ".txt" or p.is_file() or "/" in str(name_or_path):
        if not p.is_file():
            raise UserError(f"prompt template not found: {name_or_path}")
        text = p.read_text(encoding="utf-8")
    else:
        res = resources.files("seethink.data").joinpath("prompts", f"{name_or_path}.txt")
        if not res.is_file():
            raise UserError(f"unknown prompt template {name_or_path!r}")
        text = res.read_text(encoding="utf-8")
    missing = [f for f in required if "{" + f + "}" not in text]
    if missing:
        raise UserError(f"prompt template {name_or_path}: no {', '.join('{' + m + '}' for m in missing)} field")
    return text


def fill_prompt(template: str, values: dict[str, str]) -> str:
    """`template` with each `{name}` of `values` replaced in one pass (a value that itself holds
    `{name}` is not expanded again; placeholders not in `values` stay as they are)."""
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


def prompt_digest(template: str) -> str:
    """A short fingerprint of a template's text, for cache keys."""
    return hashlib.sha256(template.encode()).hexdigest()[:16]


def load_cache_rows(path: str | Path) -> list[dict]:
    """Rows of an append-only JSONL cache, ready for more appends: a torn last line (a write cut
    off by a kill) is dropped and cut from the file, so the next append starts on a fresh line."""
    from seethink.utils import read_appended_jsonl

    p = Path(path)
    if not p.is_file():
        return []
    data = p.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(p, "r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)
    return read_appended_jsonl(p)
