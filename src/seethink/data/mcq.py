"""Multiple-choice perception questions written by an LLM from image captions.

`seethink data mcq` reads caption rows (DOCCI / PixMo-Cap / generic, via
`seethink.data.captions.load_caption_items`), asks an LLM behind an OpenAI-compatible chat
endpoint (a local vLLM server or any other; `seethink.eval.judge.Judge`, the key read from a
named environment variable and never written) to write questions whose answer the caption
states, and writes perception items: `question`, four `options`, `answer` letter, `images`,
`caption`, `capability: perception`, `task: caption_mcq`, `id` (`CAPTION_ID-qK`).

Every reply is parsed and checked (`parse_reply`): a JSON object with a list of questions,
each with a question that does not mention the caption, exactly four distinct options, one
answer letter, and an `evidence` quote found verbatim (case and spacing aside) in the caption:
the answer must be stated by the caption. Bad questions are dropped and counted by reason; a
reply with no usable question is asked again with the reason appended (at most `max_attempts`
calls per caption), then the caption is dropped and counted.

Caching and resume: every finished caption (questions written, or dropped) is appended to a
JSONL cache keyed by (model, template text, questions per caption, caption id, caption, image).
A rerun reads it and calls the endpoint only for captions without an entry, so an interrupted
run resumes where it stopped and a finished one rewrites its output without any call. The
output is written (atomically) once every caption has an entry.

Options are shuffled per question by a hash of its id (`shuffle_options`), so the right letter
is spread evenly whatever letter the LLM favours.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from seethink.errors import UserError
from seethink.eval.judge import Judge, fill_prompt, load_cache_rows, load_prompt, prompt_digest
from seethink.utils import append_jsonl

TEMPLATE = "mcq_generate"
TASK = "caption_mcq"
LETTERS = "ABCD"
N_OPTIONS = 4
RETRY_NOTE = ("\n\nYour previous reply could not be used: {reason}. Follow the rules above and reply "
              "with the JSON object only.")
# Questions must be about the image: one that names the caption cannot be asked of the image.
_MENTIONS_TEXT = re.compile(r"\b(caption|captions|description|described|describes|passage|the text above)\b", re.I)
_LETTER_PREFIX = re.compile(r"^\s*\(?([A-Da-d])\s*[.):]\s+")


class ReplyError(ValueError):
    """A reply with no usable question; the message is the reason given back on retry."""


def _norm(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip(" .,;:!?\"'")


def _json_object(reply: str) -> Any:
    text = reply.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fence:
        text = fence.group(1).strip()
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise ReplyError("the reply holds no JSON object")
    start = min(starts)
    end = max(text.rfind("}"), text.rfind("]"))
    try:
        return json.loads(text[start:end + 1])
    except json.JSONDecodeError as exc:
        raise ReplyError(f"the reply is not valid JSON ({exc.msg})") from None


def check_question(q: Any, caption: str) -> dict:
    """One generated question, validated and normalised; ValueError(reason) when unusable."""
    if not isinstance(q, dict):
        raise ValueError("not an object")
    question = q.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("no question text")
    question = question.strip()
    if len(question) > 400:
        raise ValueError("question longer than 400 characters")
    if _MENTIONS_TEXT.search(question):
        raise ValueError("question mentions the caption/description")
    options = q.get("options")
    if isinstance(options, dict):  # {"A": ..., "B": ...}
        options = [options[k] for k in sorted(options)]
    if not isinstance(options, list) or len(options) != N_OPTIONS:
        raise ValueError(f"not exactly {N_OPTIONS} options")
    opts = []
    for o in options:
        if isinstance(o, bool) or not isinstance(o, (str, int, float)) or not str(o).strip():
            raise ValueError("an empty or non-text option")
        opts.append(_LETTER_PREFIX.sub("", str(o).strip(), count=1).strip())
    if len({_norm(o) for o in opts}) != N_OPTIONS:
        raise ValueError("repeated options")
    answer = q.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError("no answer letter")
    a = answer.strip()
    hits = [i for i, o in enumerate(opts) if _norm(o) == _norm(a)]  # the option's own text first
    m = re.fullmatch(r"\(?([A-Da-d])\)?[.):]?(\s.*)?", a)
    if hits:
        letter = LETTERS[hits[0]]
    elif m:
        letter = m.group(1).upper()
    else:
        raise ValueError("answer is not a letter A-D or an option's text")
    evidence = q.get("evidence")
    if not isinstance(evidence, str) or len(_norm(evidence)) < 3:
        raise ValueError("no evidence quote")
    if _norm(evidence) not in _norm(caption):
        raise ValueError("evidence is not a quote from the caption")
    return {"question": question, "options": opts, "answer": letter, "evidence": evidence.strip()}


def parse_reply(reply: str, caption: str, n: int) -> tuple[list[dict], Counter]:
    """(up to `n` valid questions, rejected-question reasons). ReplyError when none is usable."""
    data = _json_object(reply)
    if isinstance(data, dict):
        data = data.get("questions")
    if not isinstance(data, list) or not data:
        raise ReplyError('expected {"questions": [...]} with at least one question')
    kept: list[dict] = []
    rejected: Counter = Counter()
    seen: set[str] = set()
    for q in data:
        try:
            good = check_question(q, caption)
        except ValueError as exc:
            rejected[str(exc)] += 1
            continue
        key = _norm(good["question"])
        if key in seen:
            rejected["repeated question"] += 1
            continue
        seen.add(key)
        if len(kept) < n:
            kept.append(good)
    if not kept:
        reasons = "; ".join(f"{r} ({k})" for r, k in rejected.most_common(3))
        raise ReplyError(f"no usable question: {reasons}")
    return kept, rejected


def shuffled(q: dict, key: str) -> dict:
    """The question with its options in an order fixed by `key` (the answer letter follows)."""
    rng = random.Random(hashlib.sha256(key.encode()).hexdigest())
    order = list(range(len(q["options"])))
    rng.shuffle(order)
    right = LETTERS.index(q["answer"])
    return {**q, "options": [q["options"][i] for i in order], "answer": LETTERS[order.index(right)]}


def mcq_items(caption_item: dict, questions: list[dict], *, shuffle_options: bool = True) -> list[dict]:
    """Perception items of one caption (absolute image paths, as the caption item holds them)."""
    out = []
    for k, q in enumerate(questions):
        item_id = f"{caption_item['id']}-q{k}"
        if shuffle_options:
            q = shuffled(q, item_id)
        out.append({
            "id": item_id,
            "task": TASK,
            "capability": "perception",
            "question": q["question"],
            "options": list(q["options"]),
            "answer": q["answer"],
            "images": list(caption_item["images"]),
            "caption": caption_item["caption"],
            "evidence": q["evidence"],
            "subquestions": [],
        })
    return out


def _cache_key(model: str, template_digest: str, per_caption: int, item: dict) -> str:
    raw = json.dumps([model, template_digest, per_caption, item["id"], item["caption"], str(item["images"][0])])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def generate_for_caption(ask: Callable[[str], str], template: str, item: dict, per_caption: int,
                         max_attempts: int) -> dict:
    """One caption's cache entry: status ok (questions) or dropped (reason), attempts, rejections."""
    prompt = fill_prompt(template, {"caption": item["caption"], "n": str(per_caption)})
    rejected: Counter = Counter()
    reason = ""
    for attempt in range(1, max_attempts + 1):
        text = prompt if attempt == 1 else prompt + fill_prompt(RETRY_NOTE, {"reason": reason})
        reply = ask(text)
        try:
            questions, bad = parse_reply(reply, item["caption"], per_caption)
        except ReplyError as exc:
            reason = str(exc)
            rejected["unusable reply"] += 1
            continue
        rejected.update(bad)
        return {"status": "ok", "questions": questions, "attempts": attempt, "rejected": dict(rejected)}
    return {"status": "dropped", "questions": [], "attempts": max_attempts, "rejected": dict(rejected),
            "reason": reason}


def _ask_all(judge: Judge, todo: list[tuple[str, dict]], text: str, cache_path: Path, *, per_caption: int,
             max_attempts: int, workers: int) -> list[dict]:
    """The cache entries of the captions in `todo` (cache key, caption item), each appended to the cache
    as it is finished."""

    def work(pair: tuple[str, dict]) -> dict:
        key, item = pair
        entry = generate_for_caption(judge.ask, text, item, per_caption, max_attempts)
        entry = {"key": key, "caption_id": item["id"], **entry}
        append_jsonl(cache_path, entry)  # one write per caption: a kill loses at most the captions in flight
        return entry

    if workers <= 1:
        return [work(p) for p in todo]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(work, todo))


def _collect(keys: list[str], captions: list[dict], done: dict[str, dict],
             shuffle_options: bool) -> tuple[list[dict], Counter, int]:
    """The items of every caption with questions, in caption order; the rejections; the captions dropped."""
    items: list[dict] = []
    rejected: Counter = Counter()
    dropped = 0
    for key, cap in zip(keys, captions, strict=True):
        e = done[key]
        rejected.update(e.get("rejected") or {})
        if e["status"] != "ok":
            dropped += 1
            continue
        items += mcq_items(cap, e["questions"], shuffle_options=shuffle_options)
    return items, rejected, dropped


def generate_mcq(
    input_path: str | Path,
    out: str | Path,
    *,
    base_url: str,
    model: str,
    api_key_env: str = "OPENAI_API_KEY",
    template: str | Path = TEMPLATE,
    per_caption: int = 3,
    max_attempts: int = 3,
    image_root: str | Path | None = None,
    split: str | None = None,
    cache: str | Path | None = None,
    workers: int = 4,
    limit: int | None = None,
    shuffle_options: bool = True,
    max_tokens: int = 1024,
    timeout_s: float = 120.0,
    log: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Write MCQ perception items for every caption of `input_path` to `out`; returns counts."""
    from seethink.data.captions import load_caption_items
    from seethink.data.loaders import write_items_jsonl

    if per_caption < 1:
        raise UserError("--per-caption must be >= 1")
    if max_attempts < 1:
        raise UserError("--max-attempts must be >= 1")
    out = Path(out)
    cache_path = Path(cache) if cache else out.with_name(out.name + ".mcq_cache.jsonl")
    text = load_prompt(template, required=("caption", "n"))
    digest = prompt_digest(text)
    captions, cstats = load_caption_items(input_path, image_root=image_root, split=split)
    if limit is not None:
        captions = captions[:limit]
    if not captions:
        raise UserError(f"{input_path}: no caption rows")
    done: dict[str, dict] = {row["key"]: row for row in load_cache_rows(cache_path) if "key" in row}
    keys = [_cache_key(model, digest, per_caption, it) for it in captions]
    todo = [(k, it) for k, it in zip(keys, captions, strict=True) if k not in done]
    reused = len(captions) - len(todo)
    if log:
        log(f"{len(captions)} captions: {reused} finished before, {len(todo)} to ask {model} at {base_url}")
    judge = Judge(base_url, model, api_key_env=api_key_env, cache_path=None, timeout_s=timeout_s,
                  max_tokens=max_tokens)
    if todo:
        for e in _ask_all(judge, todo, text, cache_path, per_caption=per_caption, max_attempts=max_attempts,
                          workers=workers):
            done[e["key"]] = e
    items, rejected, dropped = _collect(keys, captions, done, shuffle_options)
    attempts = sum(done[key]["attempts"] for key, _ in todo)
    write_items_jsonl(items, out)
    letters = Counter(it["answer"] for it in items)
    return {
        "input": str(input_path), "output": str(out), "cache": str(cache_path),
        "captions": len(captions), "caption_rows": cstats["rows"], "reused": reused, "asked": len(todo),
        "calls": attempts, "dropped_captions": dropped, "questions": len(items),
        "rejected": dict(rejected), "answer_letters": {k: letters.get(k, 0) for k in LETTERS},
    }
