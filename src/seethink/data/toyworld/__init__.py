"""The embedded toy world: coloured shapes on a grid, for all three capabilities (and captions)."""

from seethink.data.toyworld.generators import caption_items, generate_items
from seethink.data.toyworld.scenes import Scene, render_scene

__all__ = ["Scene", "caption_items", "generate_items", "render_scene"]
