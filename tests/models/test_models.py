import json
from pathlib import Path

import pytest
import torch

from seethink.data.images import item_images
from seethink.data.prompts import to_messages
from seethink.errors import UserError
from seethink.models.load import load_model, load_processor
from seethink.toyworld import generate_items


def test_toy_model_reloads_with_a_real_processor(tiny_model_dir: Path):
    from transformers.processing_utils import ProcessorMixin

    model, processor = load_model(tiny_model_dir)
    assert isinstance(processor, ProcessorMixin), "AutoProcessor fell back to a bare tokenizer"
    assert processor.image_processor is not None and processor.tokenizer is not None
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"
    assert (tiny_model_dir / "model.safetensors").is_file()
    n_params = sum(p.numel() for p in model.parameters())
    assert 5e5 < n_params < 5e6
    cfg = json.loads((tiny_model_dir / "processor_config.json").read_text())
    assert cfg["processor_class"] == "Qwen2VLProcessor"  # loadable by plain transformers where it can


def test_autoprocessor_trap_is_handled(tiny_model_dir: Path):
    """Without torchvision, AutoProcessor alone may return a tokenizer; ours must not."""
    from transformers import AutoProcessor
    from transformers.processing_utils import ProcessorMixin

    try:
        auto = AutoProcessor.from_pretrained(tiny_model_dir)
    except Exception:
        auto = None
    ours = load_processor(tiny_model_dir)
    assert isinstance(ours, ProcessorMixin)
    if auto is not None and not isinstance(auto, ProcessorMixin):
        assert ours.tokenizer.get_vocab() == auto.get_vocab()


def test_image_tokens_and_generation(tiny_model_dir: Path):
    model, processor = load_model(tiny_model_dir)
    items = generate_items("perception", 2, "train", seed=0)
    msgs = []
    for it in items:
        m = to_messages(it, 1)
        m[0]["content"][0]["image"] = item_images(it)[0]
        msgs.append(m)
    enc = processor.apply_chat_template(
        msgs, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt", padding=True
    )
    image_id = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    # 112 px, patch 14, merge 2 -> 4x4 = 16 image tokens per image
    assert (enc["input_ids"] == image_id).sum(dim=1).tolist() == [16, 16]
    out = model.generate(**enc, max_new_tokens=4, do_sample=False)
    assert out.shape[1] == enc["input_ids"].shape[1] + 4 or out.shape[1] <= enc["input_ids"].shape[1] + 4


def test_mixed_batch_processor_call_accepts_none_for_text_rows(tiny_model_dir: Path):
    _, processor = load_model(tiny_model_dir)
    img_item = generate_items("perception", 1, "train", seed=0)[0]
    img = item_images(img_item)[0]
    texts = [
        processor.apply_chat_template(to_messages(img_item, 1), add_generation_prompt=True, tokenize=False),
        processor.apply_chat_template(to_messages({"question": "1+1?"}, 0), add_generation_prompt=True,
                                      tokenize=False),
    ]
    enc = processor(images=[[img], None], text=texts, padding=True, return_tensors="pt")
    assert enc["image_grid_thw"].shape == (1, 3)  # only the image row carries an image


def test_loader_errors_are_clear(tmp_path: Path):
    with pytest.raises(UserError, match="not found"):
        load_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no config.json"):
        load_model(tmp_path / "empty")


def test_rebuild_is_deterministic(tmp_path: Path):
    from seethink.toyworld.model import build_toy

    a, _ = load_model(build_toy(tmp_path / "a", seed=3))
    b, _ = load_model(build_toy(tmp_path / "b", seed=3))
    for (na, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(pa, pb), na


def test_image_after_text_template_puts_the_image_tokens_after_the_question(tmp_path: Path):
    """toy_model.image_after_text: the same conversation, text first; generation still runs."""
    from seethink.config import ToyModelSpec
    from seethink.toyworld.model import build_toy

    model_dir = build_toy(tmp_path / "m", ToyModelSpec(image_after_text=True))
    model, processor = load_model(model_dir)
    it = generate_items("perception", 1, "train", seed=0)[0]
    m = to_messages(it, 1)
    m[0]["content"][0]["image"] = item_images(it)[0]
    text = processor.apply_chat_template([m], add_generation_prompt=True, tokenize=False)[0]
    assert text.index(it["question"]) < text.index("<|vision_start|>") < text.index("<|im_start|>assistant")
    enc = processor.apply_chat_template([m], add_generation_prompt=True, tokenize=True, return_dict=True,
                                        return_tensors="pt")
    out = model.generate(**enc, max_new_tokens=3, do_sample=False)
    assert out.shape[1] <= enc["input_ids"].shape[1] + 3
