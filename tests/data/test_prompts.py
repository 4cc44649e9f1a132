"""Prompt rendering against golden files (update them only on purpose)."""

from pathlib import Path

from seethink.data.prompts import render_prompt, to_messages
from seethink.data.toyworld import generate_items
from seethink.models.tokenizer import chat_template

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _render_chat(messages: list[dict]) -> str:
    from jinja2 import Template

    return Template(chat_template()).render(messages=messages, add_generation_prompt=True)


def test_prompts_match_golden_file():
    items = [generate_items(c, 1, "test", seed=11)[0] for c in ("perception", "text", "visual")]
    rendered = "\n-----\n".join(render_prompt(it) for it in items) + "\n"
    assert rendered == (GOLDEN / "prompts.txt").read_text()


def test_chat_template_matches_golden_file():
    item = generate_items("perception", 1, "test", seed=11)[0]
    text_item = generate_items("text", 1, "test", seed=11)[0]
    rendered = _render_chat(to_messages(item, 1)) + "-----\n" + _render_chat(to_messages(text_item, 0))
    assert rendered == (GOLDEN / "chat.txt").read_text()
