"""Loaders for the paper's reasoning data, read from local files in their published formats.

Each format turns one published row into the generic row `seethink.data.loaders.parse_row`
reads (question, answer, images, options, id, task), so conversion, image checks, dedup and
decontamination are the same as for any other file. A row that does not fit raises `RowError`
naming the *published* field, and `load_items` adds the file and row. The container (JSON list,
JSONL, parquet, a `save_to_disk` folder) is read by its suffix as usual.

| format | published as | capability |
|---|---|---|
| `orz_math` | Open-Reasoner-Zero `data/orz_math_13k_collection_hard.json` | text |
| `clevr_math` | `dali-does/clevr-math` rows, or LLaVA-OneVision-Data `CLEVR-Math(MathV360K)` | visual |
| `geoqa170k` | G-LLaVA `Geo170K/qa_tuning.json`, or LLaVA-OneVision-Data `geo170k(qa)` | visual |
| `mathpuma` | `Math-PUMA/Math-PUMA_Data_Stage2` (`Synthesis/train.json` etc.) | visual |
| `arxivqa` | `MMInstruction/ArxivQA` `arxivqa.jsonl` | visual |

Where each schema comes from is noted beside its converter. Images given as relative paths are
resolved against `--image-root`, else the data file's folder (e.g. ArxivQA's `images/...` after
unpacking `images.tgz` beside `arxivqa.jsonl`; Geo170K's `geoqa_plus/...` under its `images/`
folder: pass `--image-root Geo170K/images`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seethink.data.row_fields import LETTERS, RowError, plain

ReasoningRow = dict[str, Any]


@dataclass(frozen=True)
class ReasoningFormat:
    name: str
    capability: str
    task: str
    convert: Callable[[Any], ReasoningRow]
    source: str


def _text(value: Any, field: str) -> str:
    value = plain(value)
    if value is None:
        raise RowError(field, "missing")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RowError(field, f"expected text, got {type(value).__name__}")
    text = str(value).strip()
    if not text:
        raise RowError(field, "empty")
    return text


def _need(row: Any, field: str) -> Any:
    if not isinstance(row, dict):
        raise RowError("row", f"expected an object, got {type(row).__name__}")
    if field not in row or row[field] is None:
        raise RowError(field, f"missing (the row has {', '.join(map(str, row)) or 'no fields'})")
    return row[field]


def _digest(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:10]


# ---------------------------------------------------------------- answers and options in text

_LETTER_PREFIX = re.compile(r"^\s*\(?([A-Za-z])\s*[.):：]\s*")
_ANSWER_LETTER = (
    re.compile(r"Answer\s*[:：]\s*\(?([A-H])\b"),
    re.compile(r"answer is\s*(?:option\s*)?\(?([A-H])\b", re.IGNORECASE),
    re.compile(r"\boption\s*\(?([A-H])\)?\s*is\s*(?:selected|correct)", re.IGNORECASE),
)
_ANSWER_MARK = (re.compile(r"Answer\s*[:：]"), re.compile(r"answer is\s*[:：]?", re.IGNORECASE))


def _strip_letter(option: str) -> str:
    return _LETTER_PREFIX.sub("", option, count=1).strip()


def _clean_answer(text: str) -> str:
    text = text.strip().lstrip("†").strip().strip("$").strip()
    if "\n" in text:
        text = text.splitlines()[0].strip()
    return text.rstrip(".").strip()


def letter_answer(text: str, n_options: int, field: str) -> str:
    """The option letter a solution text ends on ('... Answer: C', 'the answer is option C')."""
    for pattern in _ANSWER_LETTER:
        found = [m for m in pattern.findall(text) if ord(m.upper()) - ord("A") < n_options]
        if found:
            return found[-1].upper()
    if re.fullmatch(r"\s*\(?([A-Ha-h])\)?\.?\s*", text):
        letter = text.strip().strip("().").upper()
        if ord(letter) - ord("A") < n_options:
            return letter
    raise RowError(field, f"no final option letter A-{LETTERS[n_options - 1]} "
                          f"(expected e.g. 'Answer: C'; ends with {text.strip()[-60:]!r})")


def final_answer(text: str, field: str, allow_bare: bool = True) -> str:
    """The final answer of a free-form solution: what follows its last 'Answer:' / 'The answer
    is', or (`allow_bare`) the whole text when it is a short one-line answer such as '3'."""
    stripped = text.strip()
    if (allow_bare and stripped and "\n" not in stripped and len(stripped) <= 40
            and not re.search(r"answer|:", stripped, re.I)):
        return _clean_answer(stripped)
    for pattern in _ANSWER_MARK:
        marks = list(pattern.finditer(stripped))
        if marks:  # what follows the last "Answer:" in the text, up to the end of its line
            ans = _clean_answer(stripped[marks[-1].end():])
            if ans:
                return ans
    raise RowError(field, f"no final answer (expected 'Answer: ...'{' or a short answer' if allow_bare else ''}; "
                          f"ends with {stripped[-60:]!r})")


def normalize_label(label: str, options: list[str], field: str) -> str:
    """An option letter from 'B', '(B)', 'B)', 'B. text' or the option's own text."""
    raw = label.strip()
    if re.fullmatch(r"\(?[A-Za-z]\)?\.?", raw):
        letter = raw.strip("().").upper()
    else:
        m = _LETTER_PREFIX.match(raw)
        letter = m.group(1).upper() if m else ""
        if not letter:
            for i, opt in enumerate(options):
                if raw.lower() == opt.lower():
                    letter = LETTERS[i]
                    break
    if not letter or ord(letter) - ord("A") >= len(options):
        raise RowError(field, f"{label!r} is not an option letter (A-{LETTERS[len(options) - 1]}) "
                              "nor the text of an option")
    return letter


# ---------------------------------------------------------------- LLaVA conversations

_GLLAVA_INSTRUCTION = re.compile(
    r"^\s*First perform reasoning, then finally select the question from the choices in the following "
    r"format:\s*Answer:\s*xxx\.?\s*", re.IGNORECASE)
_CHOICES = re.compile(r"\n\s*Choices\s*[:：]\s*\n?", re.IGNORECASE)
_OPTION_LINE = re.compile(r"^\s*\(?([A-H])\s*[:.)：]\s*(.*?)\s*$")


def _conversation(row: dict) -> tuple[str, str]:
    """(human turn, gpt turn) of a LLaVA-format row's `conversations`."""
    conv = plain(_need(row, "conversations"))
    if not isinstance(conv, list) or len(conv) < 2:
        raise RowError("conversations", "expected a list with a human turn and a gpt turn")
    turns: list[tuple[str, str]] = []
    for k, turn in enumerate(conv[:2]):
        if not isinstance(turn, dict):
            raise RowError(f"conversations[{k}]", f"expected an object, got {type(turn).__name__}")
        turns.append((str(turn.get("from", "")), _text(turn.get("value"), f"conversations[{k}].value")))
    if turns[0][0] not in ("human", "user") or turns[1][0] not in ("gpt", "assistant"):
        raise RowError("conversations", f"expected a human turn then a gpt turn, got "
                                        f"{turns[0][0]!r}, {turns[1][0]!r}")
    return turns[0][1], turns[1][1]


def split_choices(text: str) -> tuple[str, list[str]]:
    """(question, options) of a question with a 'Choices:' block of 'A: ...' lines."""
    parts = _CHOICES.split(text, maxsplit=1)
    if len(parts) < 2:
        return text.strip(), []
    options: list[str] = []
    for line in parts[1].splitlines():
        if not line.strip():
            continue
        m = _OPTION_LINE.match(line)
        if m is None or ord(m.group(1)) - ord("A") != len(options):
            if options:  # trailing text after the choices: keep it with the last option
                options[-1] = f"{options[-1]} {line.strip()}"
                continue
            return text.strip(), []
        options.append(m.group(2))
    return parts[0].strip(), options


def _llava_row(row: dict, fmt: str) -> ReasoningRow:
    human, gpt = _conversation(row)
    # G-LLaVA's answer-format instruction (its own line, after "<image>") is dropped
    question = "\n".join(_GLLAVA_INSTRUCTION.sub("", ln) for ln in human.split("\n"))
    question = re.sub(r"(^|\n)\s*Question\s*[:：]\s*", r"\1", question, count=1)
    question = re.sub(r"\n\s*\n", "\n", question).strip()
    question, options = split_choices(question)
    if options:
        answer = letter_answer(gpt, len(options), "conversations[1].value")
    else:
        answer = final_answer(gpt, "conversations[1].value")
    image = row.get("image")
    rid = row.get("id")
    rid_text = str(plain(rid)) if rid not in (None, "") else ""
    return {
        "id": f"{fmt}-{rid_text}-{_digest(question)}" if rid_text else "",
        "question": question,
        "options": options,
        "answer": answer,
        "images": [image] if image not in (None, "") else [],
    }


# ---------------------------------------------------------------- the formats


def orz_math(row: Any) -> ReasoningRow:
    """Open-Reasoner-Zero math (ORZ-Math-13k: `data/orz_math_13k_collection_hard.json`).

    Schema (github.com/Open-Reasoner-Zero/Open-Reasoner-Zero, data/*.json; read in their
    playground as `data[i][0]["value"]` / `data[i][1]["ground_truth"]["value"]`): a JSON list
    whose rows are two-turn lists
    `[{"from": "human", "value": QUESTION}, {"from": "assistant", "ground_truth": {"value": ANSWER}}]`.
    `datasets.load_dataset("json", ...)` turns the pair into columns "0" and "1"; both shapes load.
    """
    row = plain(row)
    if isinstance(row, dict) and "0" in row and "1" in row:
        row = [row["0"], row["1"]]
    if not isinstance(row, list) or len(row) < 2:
        raise RowError("row", "expected a [human, assistant] pair of objects")
    human, assistant = row[0], row[1]
    if not isinstance(human, dict):
        raise RowError("[0]", f"expected the human turn as an object, got {type(human).__name__}")
    if not isinstance(assistant, dict):
        raise RowError("[1]", f"expected the assistant turn as an object, got {type(assistant).__name__}")
    question = _text(human.get("value"), "[0].value")
    gt = assistant.get("ground_truth")
    if not isinstance(gt, dict):
        raise RowError("[1].ground_truth", "missing" if gt is None else f"expected an object, got {type(gt).__name__}")
    answer = _text(gt.get("value"), "[1].ground_truth.value")
    return {"id": f"orz_math-{_digest(question, answer)}", "question": question, "answer": answer,
            "options": [], "images": []}


def clevr_math(row: Any) -> ReasoningRow:
    """CLEVR-Math, in either published layout.

    1. `dali-does/clevr-math` on the Hugging Face hub (arXiv 2208.05358; its loading script
       clevr-math.py): columns `template` (addition / subtraction / adversarial /
       subtraction-multihop), `id` (the CLEVR image file name, shared by the questions of one
       image), `question`, `image` (an Image feature: `{"bytes", "path"}` in parquet and
       save_to_disk), `label` (the answer, an int 0-10). Without an `image` column the image
       is looked up by `id` (a file name) under the image root.
    2. `lmms-lab/LLaVA-OneVision-Data`, config `CLEVR-Math(MathV360K)` (parquet): `id`,
       `image` (`{"bytes", "path"}`), `conversations` (`[{"from": "human", "value":
       "<image>\\nQUESTION"}, {"from": "gpt", "value": ANSWER}]`), `data_source`.
    """
    if not isinstance(row, dict):
        raise RowError("row", f"expected an object, got {type(row).__name__}")
    if "conversations" in row:
        return _llava_row(row, "clevr_math")
    question = _text(_need(row, "question"), "question")
    label = plain(_need(row, "label"))
    if isinstance(label, bool) or not isinstance(label, (int, float, str)) or str(label).strip() == "":
        raise RowError("label", f"expected the answer as a number, got {label!r:.40}")
    answer = str(int(label)) if isinstance(label, float) and label.is_integer() else str(label).strip()
    image = row.get("image")
    rid = str(plain(row.get("id") or ""))
    if image in (None, "") and rid:
        image = rid  # the CLEVR file name
    if image in (None, ""):
        raise RowError("image", "missing (and no 'id' naming the CLEVR image file)")
    out: ReasoningRow = {"id": f"clevr_math-{rid or 'row'}-{_digest(question)}", "question": question,
                         "answer": answer, "options": [], "images": [image]}
    if row.get("template"):
        out["task"] = f"clevr_math_{_text(row['template'], 'template')}".replace("-", "_")
    return out


def geoqa170k(row: Any) -> ReasoningRow:
    """GeoQA170K: the question-answer part of G-LLaVA's Geo170K.

    Schema (github.com/pipilurj/G-LLaVA README, data at huggingface.co/datasets/Luckyjhg/Geo170K:
    `qa_tuning.json`, images under `images/geoqa_plus/`; the same rows as
    `lmms-lab/LLaVA-OneVision-Data` config `geo170k(qa)`): LLaVA conversation rows `{"id",
    "image": "geoqa_plus/N.png", "conversations": [{"from": "human", "value": "<image>\\nFirst
    perform reasoning, then finally select the question from the choices in the following format:
    Answer: xxx.\\nQuestion: ...\\nChoices:\\nA: ...\\nB: ..."}, {"from": "gpt", "value": "...
    Answer:C"}]}`. The instruction line is dropped (our prompt template asks for the boxed
    letter), the 'Choices:' lines become options, and the answer is the gpt turn's final letter.
    """
    if not isinstance(row, dict):
        raise RowError("row", f"expected an object, got {type(row).__name__}")
    out = _llava_row(row, "geoqa170k")
    if not out["images"]:
        raise RowError("image", "missing")
    return out


def mathpuma(row: Any) -> ReasoningRow:
    """Math-PUMA's multimodal data (`Math-PUMA/Math-PUMA_Data_Stage2`, e.g. `Synthesis/train.json`).

    Schema (github.com/wwzhuang01/Math-PUMA, train/qwen2/dataset.py reads exactly these keys;
    its README: stage-2 files also hold `image_url_2`, `instruction_2`, `output_2`): `image_url`
    (the image path), `instruction` (the question), `output` (a worked solution ending in
    '†Answer: ...'). We take the primary triple, as Math-PUMA's own instruction-tuning loader does;
    the `_2` variant of a pair is not loaded.
    """
    if not isinstance(row, dict):
        raise RowError("row", f"expected an object, got {type(row).__name__}")
    question = _text(_need(row, "instruction"), "instruction")
    output = _text(_need(row, "output"), "output")
    image = _need(row, "image_url")
    if isinstance(image, str) and not image.strip():
        raise RowError("image_url", "empty")
    question, options = split_choices(question)
    answer = (letter_answer(output, len(options), "output") if options
              else final_answer(output, "output", allow_bare=False))
    return {"id": f"mathpuma-{_digest(question, str(image))}", "question": question, "options": options,
            "answer": answer, "images": [image]}


def arxivqa(row: Any) -> ReasoningRow:
    """ArxivQA (`MMInstruction/ArxivQA`, `arxivqa.jsonl` with images in `images.tgz`).

    Schema (the dataset's JSONL, as read e.g. by LLaVA-style conversion scripts:
    `item['image']`, `item['question']`, `item['options']`, `item['label']`, `item['rationale']`):
    `{"id", "image": "images/2101.00001_0.jpg", "question", "options": ["A. ...", "B) ...", ...],
    "label": "B" (also seen as "B)", "B. text" or the option text), "rationale"}`.
    Option letters are stripped from the option texts; the label becomes the letter.
    """
    if not isinstance(row, dict):
        raise RowError("row", f"expected an object, got {type(row).__name__}")
    question = _text(_need(row, "question"), "question")
    raw_opts = plain(_need(row, "options"))
    if not isinstance(raw_opts, list) or len(raw_opts) < 2:
        raise RowError("options", "expected a list of at least 2 options")
    options = []
    for k, opt in enumerate(raw_opts):
        if isinstance(opt, bool) or not isinstance(opt, (str, int, float)):
            raise RowError("options", f"option {k + 1} is a {type(opt).__name__}, expected text")
        text = _strip_letter(str(opt))
        if not text:
            raise RowError("options", f"option {k + 1} is empty")
        options.append(text)
    label = _text(_need(row, "label"), "label")
    answer = normalize_label(_strip_label_text(label, options), options, "label")
    image = _text(_need(row, "image"), "image") if not isinstance(row.get("image"), dict) else row["image"]
    rid = str(plain(row.get("id") or ""))
    return {"id": f"arxivqa-{rid}" if rid else "", "question": question, "options": options,
            "answer": answer, "images": [image]}


def _strip_label_text(label: str, options: list[str]) -> str:
    """'B) text' -> 'B'; a label that is an option's text stays (normalize_label maps it)."""
    m = _LETTER_PREFIX.match(label)
    if m and len(label) > m.end():
        return m.group(1)
    return label


FORMATS: dict[str, ReasoningFormat] = {
    f.name: f for f in (
        ReasoningFormat("orz_math", "text", "orz_math", orz_math,
                        "Open-Reasoner-Zero data/orz_math_13k_collection_hard.json"),
        ReasoningFormat("clevr_math", "visual", "clevr_math", clevr_math,
                        "dali-does/clevr-math or LLaVA-OneVision-Data CLEVR-Math(MathV360K)"),
        ReasoningFormat("geoqa170k", "visual", "geoqa170k", geoqa170k,
                        "G-LLaVA Geo170K qa_tuning.json or LLaVA-OneVision-Data geo170k(qa)"),
        ReasoningFormat("mathpuma", "visual", "mathpuma", mathpuma,
                        "Math-PUMA/Math-PUMA_Data_Stage2 (image_url, instruction, output)"),
        ReasoningFormat("arxivqa", "visual", "arxivqa", arxivqa, "MMInstruction/ArxivQA arxivqa.jsonl"),
    )
}
ALIASES = {"orz": "orz_math", "orz-math-13k": "orz_math", "orz_math_13k": "orz_math", "clevr-math": "clevr_math",
           "geoqa": "geoqa170k", "geo170k": "geoqa170k", "math-puma": "mathpuma", "math_puma": "mathpuma"}


def reasoning_format(name: str) -> ReasoningFormat | None:
    """The reasoning format called `name` (or one of its aliases), else None."""
    return FORMATS.get(ALIASES.get(name.lower(), name.lower())) if name else None


def normalize_row(fmt: str, row: Any) -> ReasoningRow:
    """The generic row of one published row (RowError on a bad one)."""
    spec = reasoning_format(fmt)
    if spec is None:
        raise ValueError(f"not a reasoning format: {fmt!r}")
    out = spec.convert(row)
    out.setdefault("task", spec.task)
    return out
