"""The embedded toy world: coloured shapes on a grid, for all three capabilities."""

from seethink.data.toyworld.generators import generate_items
from seethink.data.toyworld.scenes import Scene, render_scene

__all__ = ["Scene", "generate_items", "render_scene"]
