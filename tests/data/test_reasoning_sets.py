"""The paper's reasoning data in their published layouts: one small fixture per format.

Each fixture copies the published columns exactly (sources in seethink/data/reasoning_sets.py):
- ORZ-Math-13k: Open-Reasoner-Zero data/orz_math_13k_collection_hard.json, a JSON list of
  [{"from": "human", "value"}, {"from": "assistant", "ground_truth": {"value"}}] pairs;
- CLEVR-Math: dali-does/clevr-math (template, id, question, image, label) and
  LLaVA-OneVision-Data CLEVR-Math(MathV360K) (id, image, conversations, data_source) parquet;
- GeoQA170K: G-LLaVA Geo170K qa_tuning.json (id, image, conversations) with images/geoqa_plus/;
- MathPUMA: Math-PUMA_Data_Stage2 train.json (image_url, instruction, output, *_2);
- ArxivQA: MMInstruction/ArxivQA arxivqa.jsonl (id, image, question, options, label, rationale).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from seethink.data.loaders import convert, load_items
from seethink.errors import UserError
from seethink.utils import read_jsonl


def _png(path: Path, color: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 12), color).save(path)
    return path


def _png_bytes(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (12, 12), color).save(buf, format="PNG")
    return buf.getvalue()


def _orz_rows() -> list:
    return [
        [{"from": "human", "value": "Let $x+2=5$. Find $x$."},
         {"from": "assistant", "ground_truth": {"value": "3"}}],
        [{"from": "human", "value": "Compute $\\frac{1}{2}+\\frac{1}{4}$."},
         {"from": "assistant", "ground_truth": {"value": "\\frac{3}{4}"}}],
    ]


def test_orz_math_json_list_of_pairs(tmp_path: Path):
    src = tmp_path / "orz_math_13k_collection_hard.json"
    src.write_text(json.dumps(_orz_rows()))
    res = load_items(src, fmt="orz_math")
    assert res.stats["format"] == "orz_math" and res.stats["items"] == 2
    a, b = res.items
    assert a["question"] == "Let $x+2=5$. Find $x$." and a["answer"] == "3"
    assert b["answer"] == "\\frac{3}{4}"
    assert a["capability"] == "text" and a["task"] == "orz_math" and a["images"] == [] and a["options"] == []
    assert a["id"].startswith("orz_math-")
    # datasets.load_dataset("json") turns each pair into columns "0" and "1"; that shape loads too
    src2 = tmp_path / "orz_columns.jsonl"
    src2.write_text("".join(json.dumps({"0": r[0], "1": r[1]}) + "\n" for r in _orz_rows()))
    assert [it["answer"] for it in load_items(src2, fmt="orz").items] == ["3", "\\frac{3}{4}"]


def test_orz_math_bad_row_names_file_row_and_field(tmp_path: Path):
    rows = _orz_rows()
    rows[1][1] = {"from": "assistant"}  # no ground_truth
    src = tmp_path / "orz.json"
    src.write_text(json.dumps(rows))
    with pytest.raises(UserError, match=r"orz\.json, row 2, field '\[1\]\.ground_truth': missing"):
        load_items(src, fmt="orz_math")
    res = load_items(src, fmt="orz_math", skip_bad_rows=True)
    assert res.stats["items"] == 1 and res.stats["bad_rows"] == 1


def _image_struct() -> pa.DataType:
    return pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def test_clevr_math_dali_does_parquet(tmp_path: Path):
    # dali-does/clevr-math: template, id (the CLEVR image file, shared by its questions), question,
    # image (Image feature -> {"bytes", "path"} in parquet), label (int)
    img = _png_bytes((200, 10, 10))
    table = pa.table({
        "template": ["subtraction", "adversarial"],
        "id": ["CLEVR_train_000001.png", "CLEVR_train_000001.png"],
        "question": ["Subtract all red cubes. How many objects are left?",
                     "Subtract all gray spheres. How many cubes are left?"],
        "image": pa.array([{"bytes": img, "path": None}, {"bytes": img, "path": None}], type=_image_struct()),
        "label": pa.array([2, 1], type=pa.int64()),
    })
    src = tmp_path / "clevr-math-train.parquet"
    pq.write_table(table, src)
    out = tmp_path / "out" / "clevr.jsonl"
    stats = convert(src, out, fmt="clevr_math")
    assert stats["items"] == 2
    rows = read_jsonl(out)
    assert [r["answer"] for r in rows] == ["2", "1"]
    assert rows[0]["task"] == "clevr_math_subtraction" and rows[1]["task"] == "clevr_math_adversarial"
    assert rows[0]["capability"] == "visual"
    assert rows[0]["id"] != rows[1]["id"]  # one image, two questions: two ids
    assert (out.parent / rows[0]["images"][0]).is_file()  # inline bytes written beside the output


def test_clevr_math_llava_onevision_parquet(tmp_path: Path):
    # LLaVA-OneVision-Data CLEVR-Math(MathV360K): id, image, conversations, data_source
    img = _png_bytes((10, 200, 10))
    conv = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))
    table = pa.table({
        "id": ["CLEVR-Math/CLEVR_train_000002.png", "CLEVR-Math/CLEVR_train_000003.png"],
        "image": pa.array([{"bytes": img, "path": None}, {"bytes": _png_bytes((1, 2, 3)), "path": None}],
                          type=_image_struct()),
        "conversations": pa.array([
            [{"from": "human", "value": "<image>\nSubtract all balls. How many objects are left?"},
             {"from": "gpt", "value": "3"}],
            [{"from": "human", "value": "<image>\nSubtract all cubes. How many objects are left?"},
             {"from": "gpt", "value": "There are 5 objects and 2 cubes.\nAnswer: 3"}],
        ], type=conv),
        "data_source": ["CLEVR-Math(MathV360K)", "CLEVR-Math(MathV360K)"],
    })
    src = tmp_path / "train-00000-of-00002.parquet"
    pq.write_table(table, src)
    res = load_items(src, fmt="clevr-math", image_dir=tmp_path / "imgs")
    assert [it["question"] for it in res.items] == ["Subtract all balls. How many objects are left?",
                                                    "Subtract all cubes. How many objects are left?"]
    assert [it["answer"] for it in res.items] == ["3", "3"]
    assert all(len(it["images"]) == 1 for it in res.items)


def test_clevr_math_without_an_answer_is_a_clear_error(tmp_path: Path):
    src = tmp_path / "clevr.jsonl"
    _png(tmp_path / "CLEVR_val_000000.png", (5, 5, 5))
    src.write_text(json.dumps({"template": "addition", "id": "CLEVR_val_000000.png",
                               "question": "Add 1 cube. How many objects exist?"}) + "\n")
    with pytest.raises(UserError, match=r"clevr\.jsonl, row 1, field 'label': missing"):
        load_items(src, fmt="clevr_math")
    # with the label, the image is found by its CLEVR file name (no image column in this export)
    src.write_text(json.dumps({"template": "addition", "id": "CLEVR_val_000000.png",
                               "question": "Add 1 cube. How many objects exist?", "label": 4}) + "\n")
    (item,) = load_items(src, fmt="clevr_math").items
    assert item["answer"] == "4" and item["images"][0].endswith("CLEVR_val_000000.png")


def _geo_rows() -> list[dict]:
    instr = ("First perform reasoning, then finally select the question from the choices in the following format: "
             "Answer: xxx.")
    return [
        {"id": "geoqa_plus-2905-0", "image": "geoqa_plus/2905.png", "conversations": [
            {"from": "human", "value": f"<image>\n{instr}\nQuestion: In triangle ABC, angle A = 50.0 and angle B "
                                       "= 60.0. What is angle C?\nChoices:\nA: 50°\nB: 60°\nC: 70°\nD: 80°"},
            {"from": "gpt", "value": "The angles of a triangle sum to 180°, so C = 180 - 50 - 60 = 70°.\nAnswer:C"},
        ]},
        {"id": "geoqa_plus-11-1", "image": "geoqa_plus/11.png", "conversations": [
            {"from": "human", "value": f"<image>\n{instr}\nQuestion: AB is a diameter and AB = 10.0. What is the "
                                       "radius?\nChoices:\nA: 5\nB: 10\nC: 20\nD: 2.5"},
            {"from": "gpt", "value": "The radius is half the diameter: 5. Therefore, the answer is option A."},
        ]},
    ]


def test_geoqa170k_qa_tuning_with_image_root(tmp_path: Path):
    root = tmp_path / "Geo170K"
    _png(root / "images" / "geoqa_plus" / "2905.png", (10, 10, 200))
    _png(root / "images" / "geoqa_plus" / "11.png", (10, 100, 200))
    src = root / "qa_tuning.json"
    src.write_text(json.dumps(_geo_rows()))
    res = load_items(src, fmt="geoqa170k", image_root=root / "images")
    a, b = res.items
    assert a["question"] == "In triangle ABC, angle A = 50.0 and angle B = 60.0. What is angle C?"
    assert a["options"] == ["50°", "60°", "70°", "80°"] and a["answer"] == "C"
    assert b["options"] == ["5", "10", "20", "2.5"] and b["answer"] == "A"
    assert "First perform reasoning" not in a["question"] and "<image>" not in a["question"]
    assert a["capability"] == "visual" and a["task"] == "geoqa170k"
    assert a["images"] == [str((root / "images" / "geoqa_plus" / "2905.png").resolve())]


def test_geoqa170k_bad_rows_are_named(tmp_path: Path):
    rows = _geo_rows()
    rows[1]["conversations"][1]["value"] = "The radius is half the diameter."  # no final letter
    src = tmp_path / "qa_tuning.json"
    src.write_text(json.dumps(rows))
    _png(tmp_path / "geoqa_plus" / "2905.png", (1, 1, 1))
    _png(tmp_path / "geoqa_plus" / "11.png", (2, 2, 2))
    with pytest.raises(UserError, match=r"qa_tuning\.json, row 2, field 'conversations\[1\]\.value': no final "
                                        r"option letter"):
        load_items(src, fmt="geoqa170k")
    rows[1]["image"] = "geoqa_plus/missing.png"
    rows[1]["conversations"][1]["value"] = "Answer:A"
    src.write_text(json.dumps(rows))
    with pytest.raises(UserError, match=r"row 2, field 'images': image not found"):
        load_items(src, fmt="geoqa170k")


def test_mathpuma_stage2_json(tmp_path: Path):
    _png(tmp_path / "images" / "func_sine_1.png", (50, 50, 50))
    _png(tmp_path / "images" / "func_sine_1_text.png", (60, 60, 60))
    rows = [{
        "image_url": "images/func_sine_1.png",
        "instruction": "What is the function's equation?",
        "output": "Step 1: Substitute (pi/10, 5): 5 = a * sin(-5 * (pi/10)).\nStep 2: sin(-pi/2) = -1, so a = -5."
                  "\n\n†Answer: y = -5 * sin(-5 * x).",
        "image_url_2": "images/func_sine_1_text.png",
        "instruction_2": "The function y = a * sin(-5 * x) goes through (pi/10, 5). What is the function's equation?",
        "output_2": "Step 1: ...\n\n†Answer: y = -5 * sin(-5 * x).",
    }, {
        "image_url": "images/func_sine_1.png",
        "instruction": "Which is the period?\nChoices:\nA: pi\nB: 2*pi/5\nC: 5\nD: 2",
        "output": "The period of sin(5x) is 2*pi/5.\n†Answer: B",
    }]
    src = tmp_path / "train.json"
    src.write_text(json.dumps(rows))
    a, b = load_items(src, fmt="mathpuma").items
    assert a["question"] == "What is the function's equation?" and a["answer"] == "y = -5 * sin(-5 * x)"
    assert a["images"][0].endswith("func_sine_1.png") and a["task"] == "mathpuma"
    assert b["options"] == ["pi", "2*pi/5", "5", "2"] and b["answer"] == "B"
    rows[0]["output"] = "Step 1: nothing concluded"
    src.write_text(json.dumps(rows))
    with pytest.raises(UserError, match=r"train\.json, row 1, field 'output': no final answer"):
        load_items(src, fmt="mathpuma")


def _arxiv_rows() -> list[dict]:
    return [
        {"id": "cond-mat-23739", "image": "images/1704.01566_1.jpg",
         "question": "What does the heat flux trend suggest about the system's behavior over time?",
         "options": ["A) It increases continuously.", "B) It fluctuates without a pattern.",
                     "C) It stabilizes after an initial decrease.", "D) It decreases as t approaches 1.5e6."],
         "label": "C) It stabilizes after an initial decrease.",
         "rationale": "The curve drops at first and then levels off."},
        {"id": "astro-ph-1", "image": "images/2101.00001_0.jpg", "question": "Which curve peaks first?",
         "options": ["A. The red curve", "B. The blue curve", "C. The green curve", "D. They peak together"],
         "label": "B", "rationale": "The blue curve reaches its maximum at the smallest x."},
    ]


def test_arxivqa_jsonl(tmp_path: Path):
    img = Image.new("RGB", (12, 12), (90, 90, 0))
    (tmp_path / "images").mkdir()
    img.save(tmp_path / "images" / "1704.01566_1.jpg")
    img.save(tmp_path / "images" / "2101.00001_0.jpg", quality=60)
    src = tmp_path / "arxivqa.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in _arxiv_rows()))
    a, b = load_items(src, fmt="arxivqa").items
    assert a["options"][2] == "It stabilizes after an initial decrease." and a["answer"] == "C"
    assert b["options"] == ["The red curve", "The blue curve", "The green curve", "They peak together"]
    assert b["answer"] == "B" and a["id"] == "arxivqa-cond-mat-23739" and a["capability"] == "visual"


def test_arxivqa_bad_label_names_the_field(tmp_path: Path):
    (tmp_path / "images").mkdir()
    Image.new("RGB", (12, 12)).save(tmp_path / "images" / "1704.01566_1.jpg")
    Image.new("RGB", (12, 12), (1, 1, 1)).save(tmp_path / "images" / "2101.00001_0.jpg")
    rows = _arxiv_rows()
    rows[1]["label"] = "E"
    src = tmp_path / "arxivqa.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(UserError, match=r"arxivqa\.jsonl, row 2, field 'label': 'E' is not an option letter"):
        load_items(src, fmt="arxivqa")


def test_convert_command_reaches_the_reasoning_formats(tmp_path: Path, cli):
    src = tmp_path / "orz.json"
    src.write_text(json.dumps(_orz_rows()))
    out = tmp_path / "orz_items.jsonl"
    code, stdout, err = cli(["data", "convert", "--input", str(src), "--out", str(out), "--format", "orz_math"])
    assert code == 0, err
    assert "2 items from 2 rows (orz_math)" in stdout
    assert [r["capability"] for r in read_jsonl(out)] == ["text", "text"]
    code, _, err = cli(["data", "convert", "--input", str(src), "--out", str(out), "--format", "orz_math",
                        "--map", "question=problem"])
    assert code == 2 and "--map does not apply" in err
    code, _, err = cli(["data", "convert", "--input", str(src), "--out", str(out), "--format", "nope"])
    assert code == 2 and "arxivqa" in err
