"""The embedded toy world: coloured shapes on a grid, for all three capabilities (and captions).

Its settings, perception difficulty included, are one `seethink.config.ToyWorldSpec`.
"""

from seethink.toyworld.generators import caption_items, generate_items
from seethink.toyworld.scenes import Scene, render_scene, sample_world_scene

__all__ = ["Scene", "caption_items", "generate_items", "render_scene", "sample_world_scene"]
