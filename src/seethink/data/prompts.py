"""Prompt rendering from template files (data/prompts/*.txt).

Templates are plain text with `{question}` and `{options}`; options render as
"\nA. first\nB. second" so the letter the reward expects is visible in the prompt.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from seethink.errors import UserError

DEFAULT_TEMPLATE = "reasoning"
# Caption items (caption SFT): the question every caption item asks, and their template
# (`{question}` alone: the answer is the plain caption, no <think> and no \boxed{}).
CAPTION_QUESTION = "Describe the image."
CAPTION_TEMPLATE = "caption"


@lru_cache(maxsize=32)
def load_template(name: str = DEFAULT_TEMPLATE) -> str:
    """A packaged template by name, or a path to a user's .txt file."""
    if name.endswith(".txt"):
        path = Path(name)
        if not path.is_file():
            raise UserError(f"prompt template not found: {name}")
        text = path.read_text(encoding="utf-8")
    else:
        res = resources.files("seethink.data").joinpath("prompts", f"{name}.txt")
        if not res.is_file():
            raise UserError(f"unknown prompt template {name!r}")
        text = res.read_text(encoding="utf-8")
    if "{question}" not in text:
        raise UserError(f"prompt template {name!r} has no {{question}} field")
    return text.rstrip("\n")


def format_options(options: list[str]) -> str:
    if not options:
        return ""
    return "".join(f"\n{chr(ord('A') + i)}. {opt}" for i, opt in enumerate(options))


def render_prompt(item: dict, template: str | None = None) -> str:
    """The user text of an item; an item may name its own template (`prompt_template`)."""
    template = template or item.get("prompt_template") or DEFAULT_TEMPLATE
    # str.replace, not str.format: templates contain literal braces such as \boxed{}.
    text = load_template(template)
    text = text.replace("{question}", item["question"].strip())
    return text.replace("{options}", format_options(item.get("options") or []))


def to_messages(item: dict, n_images: int, template: str | None = None) -> list[dict]:
    """A one-turn conversation; image placeholders first, as Qwen-VL models are trained."""
    text = render_prompt(item, template)
    if n_images == 0:
        return [{"role": "user", "content": text}]
    content: list[dict] = [{"type": "image"} for _ in range(n_images)]
    content.append({"type": "text", "text": text})
    return [{"role": "user", "content": content}]
