"""Scenes: shapes on a grid, their ground-truth facts, a caption, and a PIL rendering.

Scenes live on a grid of `cell_px` cells because with Qwen2-VL's patch 14 and merge 2
each merged image token then covers exactly one cell; with free placement the tiny
model never learned to read the image (see docs/toy-world.md).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

COLORS = ("red", "green", "blue", "yellow")
SHAPES = ("circle", "square", "triangle")
RGB = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (235, 200, 30)}
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


@dataclass(frozen=True)
class Obj:
    row: int
    col: int
    shape: str
    color: str

    @property
    def name(self) -> str:
        return f"{self.color} {self.shape}"


@dataclass(frozen=True)
class Scene:
    grid: int
    objects: tuple[Obj, ...]

    # ---- facts
    def count(self, color: str | None = None, shape: str | None = None) -> int:
        return sum(
            1
            for o in self.objects
            if (color is None or o.color == color) and (shape is None or o.shape == shape)
        )

    def at(self, row: int, col: int) -> Obj | None:
        for o in self.objects:
            if o.row == row and o.col == col:
                return o
        return None

    def unique(self, color: str, shape: str) -> Obj | None:
        hits = [o for o in self.objects if o.color == color and o.shape == shape]
        return hits[0] if len(hits) == 1 else None

    def key(self) -> str:
        """Canonical text of the scene (used for hashing and de-duplication)."""
        return ";".join(f"{o.row}{o.col}{o.color[0]}{o.shape[0]}" for o in sorted(self.objects, key=_pos))

    def to_facts(self) -> dict:
        return {
            "grid": self.grid,
            "objects": [{"row": o.row, "col": o.col, "shape": o.shape, "color": o.color} for o in self.objects],
        }

    @classmethod
    def from_facts(cls, facts: dict) -> Scene:
        return cls(grid=int(facts["grid"]), objects=tuple(Obj(**o) for o in facts["objects"]))

    def caption(self) -> str:
        """Plain-English description: what a perfect perceiver would say."""
        parts = [
            f"a {o.name} in row {o.row + 1}, column {o.col + 1}" for o in sorted(self.objects, key=_pos)
        ]
        n = len(self.objects)
        noun = "shape" if n == 1 else "shapes"
        return f"A {self.grid} by {self.grid} grid with {n} {noun}: " + "; ".join(parts) + "."


def _pos(o: Obj) -> tuple[int, int]:
    return (o.row, o.col)


def sample_scene(rng: random.Random, grid: int, min_shapes: int, max_shapes: int) -> Scene:
    n = rng.randint(min_shapes, max_shapes)
    cells = rng.sample([(r, c) for r in range(grid) for c in range(grid)], n)
    objs = tuple(Obj(r, c, rng.choice(SHAPES), rng.choice(COLORS)) for r, c in cells)
    return Scene(grid=grid, objects=objs)


def render_scene(scene: Scene, cell_px: int = 28) -> Image.Image:
    """Draw the scene: white background, one filled shape per occupied cell."""
    size = scene.grid * cell_px
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    pad = max(2, cell_px // 7)
    for o in scene.objects:
        x0, y0 = o.col * cell_px + pad, o.row * cell_px + pad
        x1, y1 = (o.col + 1) * cell_px - pad, (o.row + 1) * cell_px - pad
        fill = RGB[o.color]
        if o.shape == "circle":
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        elif o.shape == "square":
            draw.rectangle((x0, y0, x1, y1), fill=fill)
        else:
            draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=fill)
    return img


def blank_like(img: Image.Image) -> Image.Image:
    """The image-ablation control: same size, nothing drawn."""
    return Image.new("RGB", img.size, (255, 255, 255))
