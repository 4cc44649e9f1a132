"""The toy world's facts renderer: an item whose facts hold scene `objects` is drawn from them.

Imported by `seethink.data.images` the first time an item's images are rendered from facts.
"""

from __future__ import annotations

from PIL import Image

from seethink.data.images import FACTS_RENDERERS
from seethink.toyworld.scenes import Scene, render_scene


@FACTS_RENDERERS.register("toy")
def render_toy_facts(facts: dict) -> list[Image.Image] | None:
    if "objects" not in facts:
        return None
    return [render_scene(Scene.from_facts(facts))]
