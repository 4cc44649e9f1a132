"""Loading user datasets: every format, validation errors, skip mode, dedup and decontamination."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from seethink.data.commands import register
from seethink.data.export import write_items
from seethink.data.images import item_images
from seethink.data.loaders import convert, load_items, normalize_question, parse_mapping
from seethink.errors import UserError
from seethink.toyworld import generate_items
from seethink.utils import read_jsonl


def _png(path: Path, color: tuple[int, int, int], size: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), color).save(path)
    return path


def _png_bytes(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
    return buf.getvalue()


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _app() -> typer.Typer:
    app = typer.Typer()
    data = typer.Typer()
    app.add_typer(data, name="data")
    register(data)
    return app


def test_seethink_jsonl_round_trip(tmp_path: Path):
    items = generate_items("perception", 4, "train", 0)
    src = write_items(items, tmp_path / "in" / "p.jsonl")
    res = load_items(src)
    assert res.stats["format"] == "jsonl" and res.stats["items"] == 4 and res.stats["bad_rows"] == 0
    got = res.items
    assert [g["id"] for g in got] == [it["id"] for it in items]
    assert [g["answer"] for g in got] == [it["answer"] for it in items]
    assert got[0]["options"] == items[0]["options"] and got[0]["capability"] == "perception"
    assert got[0]["facts"] == items[0]["facts"] and got[0]["solution"] == items[0]["solution"]
    assert all(Path(p).is_absolute() and Path(p).is_file() for g in got for p in g["images"])
    # Written elsewhere, image paths still resolve relative to the new file.
    stats = convert(src, tmp_path / "elsewhere" / "deep" / "conv.jsonl")
    rows = read_jsonl(stats["output"])
    assert not Path(rows[0]["images"][0]).is_absolute()
    assert item_images(rows[0], Path(stats["output"]).parent)[0].size == item_images(items[0])[0].size


def test_json_list_with_column_mapping_and_option_text_answers(tmp_path: Path):
    _png(tmp_path / "imgs" / "a.png", (255, 0, 0))
    rows = [
        {"problem": "What colour is it?", "label": "red", "choices": ["blue", "red"], "img": "imgs/a.png",
         "skill": "perception"},
        {"problem": "2+2?", "label": 4, "choices": None, "img": None, "skill": "text"},
    ]
    path = tmp_path / "data.json"
    path.write_text(json.dumps(rows))
    res = load_items(path, mapping=["question=problem", "answer=label", "options=choices", "images=img",
                                    "capability=skill"])
    a, b = res.items
    assert a["answer"] == "B" and a["options"] == ["blue", "red"] and a["capability"] == "perception"
    assert a["images"] == [str((tmp_path / "imgs" / "a.png").resolve())]
    assert b["answer"] == "4" and b["images"] == [] and b["options"] == [] and b["capability"] == "text"
    assert a["id"] != b["id"] and a["id"].startswith("data-")
    with pytest.raises(UserError, match="unknown field 'questoin'"):
        parse_mapping(["questoin=x"])
    with pytest.raises(UserError, match="mapped column 'nope'"):
        load_items(path, mapping={"question": "nope"})


def test_parquet_with_inline_and_multi_image_bytes(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    red, blue = _png_bytes((255, 0, 0)), _png_bytes((0, 0, 255))
    table = pa.table({
        "question": ["Which is red?", "Count the squares."],
        "answer": ["A", "2"],
        "images": [[{"bytes": red, "path": None}, {"bytes": blue, "path": None}], [{"bytes": blue, "path": None}]],
        "options": [["first", "second"], []],
    })
    pq.write_table(table, tmp_path / "d.parquet")
    out = tmp_path / "out" / "conv.jsonl"
    stats = convert(tmp_path / "d.parquet", out)
    assert stats["format"] == "parquet" and stats["items"] == 2 and stats["with_images"] == 2
    rows = read_jsonl(out)
    assert len(rows[0]["images"]) == 2 and len(rows[1]["images"]) == 1
    assert rows[0]["images"][0].startswith("conv_images/")
    assert rows[0]["images"][1] == rows[1]["images"][0]  # same picture stored once
    ims = item_images(rows[0], out.parent)
    assert ims[0].getpixel((0, 0)) == (255, 0, 0) and ims[1].getpixel((0, 0)) == (0, 0, 255)


def test_hf_save_to_disk_dataset_and_dataset_dict(tmp_path: Path):
    from datasets import Dataset, DatasetDict, Features, Value
    from datasets import Image as HFImage

    feats = Features({"query": Value("string"), "answer": Value("string"), "image": HFImage()})
    ds = Dataset.from_dict(
        {"query": ["Is it green?", "Is it red?"], "answer": ["yes", "no"],
         "image": [Image.new("RGB", (8, 8), (0, 255, 0)), Image.new("RGB", (8, 8), (0, 0, 9))]},
        features=feats,
    )
    ds.save_to_disk(str(tmp_path / "flat"))
    DatasetDict({"train": ds, "test": ds.select([0])}).save_to_disk(str(tmp_path / "dd"))
    res = load_items(tmp_path / "flat", image_dir=tmp_path / "imgs")
    assert res.stats["format"] == "hf" and [it["question"] for it in res.items] == ["Is it green?", "Is it red?"]
    assert Image.open(res.items[0]["images"][0]).convert("RGB").getpixel((1, 1)) == (0, 255, 0)
    assert len(load_items(tmp_path / "dd").items) == 2
    assert len(load_items(tmp_path / "dd", split="test").items) == 1
    with pytest.raises(UserError, match="no split 'dev'"):
        load_items(tmp_path / "dd", split="dev")


def test_easyr1_jsonl_multi_image_placeholders(tmp_path: Path):
    _png(tmp_path / "x" / "1.png", (1, 2, 3))
    _png(tmp_path / "x" / "2.png", (4, 5, 6))
    path = _jsonl(tmp_path / "e.jsonl", [
        {"prompt": "<image><image>Which picture is darker?", "answer": "1", "images": ["x/1.png", "x/2.png"]},
        {"prompt": "What is 3*4?", "answer": "12", "images": []},
    ])
    res = load_items(path, fmt="easyr1", capability="visual")
    a, b = res.items
    assert a["question"] == "Which picture is darker?" and len(a["images"]) == 2
    assert a["capability"] == "visual" and b["images"] == [] and b["answer"] == "12"
    bad = _jsonl(tmp_path / "bad.jsonl", [{"prompt": "<image><image>Two?", "answer": "1", "images": ["x/1.png"]}])
    with pytest.raises(UserError, match=r"bad\.jsonl, row 1, field 'images': the question has 2 <image>"):
        load_items(bad, fmt="easyr1")


def _bad_file(tmp_path: Path) -> Path:
    _png(tmp_path / "ok.png", (9, 9, 9))
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    lines = [
        json.dumps({"question": "fine?", "answer": "yes", "images": ["ok.png"]}),
        json.dumps({"question": "no answer here"}),
        json.dumps({"question": "broken image", "answer": "1", "images": ["broken.png"]}),
        json.dumps({"question": "list answer", "answer": [1, 2]}),
        "{not json",
        json.dumps({"question": "missing image", "answer": "1", "images": ["gone.png"]}),
        json.dumps({"question": "also fine", "answer": 3}),
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_rows_name_file_row_and_field(tmp_path: Path):
    path = _bad_file(tmp_path)
    with pytest.raises(UserError, match=r"rows\.jsonl, row 2, field 'answer': missing"):
        load_items(path)
    path.write_text("\n".join(path.read_text().splitlines()[:1] + path.read_text().splitlines()[2:]) + "\n")
    with pytest.raises(UserError, match=r"row 2, field 'images': unreadable image .*broken\.png"):
        load_items(path)


def test_skip_bad_rows_counts_and_reasons(tmp_path: Path):
    res = load_items(_bad_file(tmp_path), skip_bad_rows=True)
    assert [it["question"] for it in res.items] == ["fine?", "also fine"]
    s = res.stats
    assert s["rows"] == 7 and s["bad_rows"] == 5 and len(s["bad_row_examples"]) == 5
    reasons = " | ".join(s["bad_row_examples"])
    for frag in ("row 2, field 'answer': missing", "row 3, field 'images': unreadable",
                 "row 4, field 'answer': expected text or a number, got list", "row 5: not valid JSON",
                 "row 6, field 'images': image not found"):
        assert frag in reasons


def test_dedup_by_question_and_image_content(tmp_path: Path):
    _png(tmp_path / "a.png", (10, 20, 30))
    shutil.copy(tmp_path / "a.png", tmp_path / "a_copy.png")
    Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / "a_copy.bmp")  # same pixels, other format
    _png(tmp_path / "b.png", (99, 0, 0))
    path = _jsonl(tmp_path / "d.jsonl", [
        {"question": "How many?", "answer": "1", "images": ["a.png"]},
        {"question": "How many?", "answer": "1", "images": ["a_copy.png"]},
        {"question": "How many?", "answer": "1", "images": ["a_copy.bmp"]},
        {"question": "How many?", "answer": "1", "images": ["b.png"]},
        {"question": "How many? ", "answer": "1", "images": ["a.png"]},
        {"question": "How many do you see?", "answer": "1", "images": ["a.png"]},
    ])
    res = load_items(path)
    assert res.stats["duplicates"] == 3 and res.stats["items"] == 3
    assert len({it["id"] for it in res.items}) == 3
    assert load_items(path, dedup=False).stats["items"] == 6


def test_decontamination_against_eval_items(tmp_path: Path):
    test_items = generate_items("perception", 5, "test", 0)
    train_items = generate_items("perception", 6, "train", 0)
    # Two evaluation items leaked into the training file (re-worded in case and spacing for one).
    leaked = [dict(test_items[0]), dict(test_items[1], question="  " + test_items[1]["question"].upper())]
    src = write_items(train_items + leaked, tmp_path / "train.jsonl")
    res = load_items(src, eval_items=test_items)  # eval items render their scenes from facts
    assert res.stats["contaminated"] == 2 and res.stats["items"] == 6
    assert not {it["id"] for it in res.items} & {t["id"] for t in test_items}
    # Text only: a question match is enough.
    q = _jsonl(tmp_path / "t.jsonl", [{"question": "What is 2+2?", "answer": "4"}, {"question": "1+1?", "answer": "2"}])
    res = load_items(q, eval_items=[{"question": "what is 2+2", "answer": "4"}])
    assert res.stats["contaminated"] == 1 and res.items[0]["question"] == "1+1?"
    assert normalize_question("<image>What  is 2+2?") == "what is 2+2"


def test_decontam_either_drops_shared_images(tmp_path: Path):
    _png(tmp_path / "a.png", (1, 1, 1))
    _png(tmp_path / "b.png", (2, 2, 2))
    path = _jsonl(tmp_path / "d.jsonl", [
        {"question": "Other question about a?", "answer": "1", "images": ["a.png"]},
        {"question": "About b?", "answer": "1", "images": ["b.png"]},
    ])
    ev = [{"question": "Eval question?", "answer": "1", "images": ["a.png"]}]
    assert load_items(path, eval_items=ev, eval_base_dir=tmp_path).stats["contaminated"] == 0
    res = load_items(path, eval_items=ev, eval_base_dir=tmp_path, decontam="either")
    assert res.stats["contaminated"] == 1 and res.items[0]["question"] == "About b?"


def test_cli_convert(tmp_path: Path):
    runner = CliRunner()
    path = _bad_file(tmp_path)
    r = runner.invoke(_app(), ["data", "convert", "--input", str(path), "--out", str(tmp_path / "o.jsonl")])
    assert isinstance(r.exception, UserError) and "row 2, field 'answer'" in str(r.exception)
    r = runner.invoke(_app(), ["data", "convert", "--input", str(path), "--out", str(tmp_path / "o.jsonl"),
                               "--skip-bad-rows", "--capability", "text"])
    assert r.exit_code == 0, r.output
    assert "2 items from 7 rows" in r.output and "skipped:" in r.output
    assert [row["capability"] for row in read_jsonl(tmp_path / "o.jsonl")] == ["text", "text"]
    ev = _jsonl(tmp_path / "ev.jsonl", [{"question": "also fine", "answer": "3"}])
    r = runner.invoke(_app(), ["data", "convert", "--input", str(path), "--out", str(tmp_path / "o2.jsonl"),
                               "--skip-bad-rows", "--decontam", str(ev), "--map", "answer=answer"])
    assert r.exit_code == 0, r.output
    assert "1 contaminated" in r.output and len(read_jsonl(tmp_path / "o2.jsonl")) == 1


def test_toy_items_without_files_hash_their_rendered_scene(tmp_path: Path):
    from collections import Counter

    items = generate_items("perception", 60, "train", 0)
    common = Counter(it["question"] for it in items).most_common(1)[0][0]
    same_q = [it for it in items if it["question"] == common]
    assert len(same_q) > 1  # templated questions repeat across scenes
    path = _jsonl(tmp_path / "raw.jsonl", same_q + same_q[:1])
    res = load_items(path)
    assert res.stats["duplicates"] == 1 and res.stats["items"] == len(same_q)
    # The same scene written as a PNG file hashes the same as the rendered one.
    written = write_items(same_q[:1], tmp_path / "w" / "w.jsonl")
    assert load_items(written, eval_items=same_q[:1]).stats["contaminated"] == 1
