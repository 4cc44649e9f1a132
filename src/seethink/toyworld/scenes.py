"""Scenes: shapes on a grid, their ground-truth facts, a caption, and a PIL rendering.

Scenes live on a grid of `cell_px` cells because with Qwen2-VL's patch 14 and merge 2
each merged image token then covers exactly one cell; with free placement the tiny
model never learned to read the image (see docs/toy-world.md).

Perception difficulty (`toy.*` in the recipe, `ToyWorldSpec`) changes how a scene is drawn
(smaller, shifted, rotated shapes, near colours, grey clutter, pixel noise, several cells per
image token) or what it holds (more shapes, sizes), never what its questions mean. Everything a
render depends on is recorded in the scene and its facts, so `render_scene(Scene.from_facts(f))`
draws the item's image again pixel for pixel; with every knob at its default the facts and the
images are exactly those of the original world.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw

# The world's vocabulary (shapes, sizes, palette) is what the recipe's `toy.*` may choose from.
from seethink.config.schema import ALL_SHAPES, RGB, SIZE_SCALE, min_palette_distance

if TYPE_CHECKING:  # the world's settings; imported lazily at run time
    from seethink.config import ToyWorldSpec

COLORS = ("red", "green", "blue", "yellow")
SHAPES = ("circle", "square", "triangle")  # the default world's shapes
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")

# Distractors (`toy.distractors`) are thin grey outlines: no palette colour is grey, and objects
# are always filled, so they are never shapes a question counts.
DISTRACTOR_RGB = (150, 150, 150)


@dataclass(frozen=True)
class Obj:
    row: int
    col: int
    shape: str
    color: str
    # Rendering details that default to the original world (left out of facts at the default).
    size: str = ""  # a SIZE_SCALE name where the world has sizes (a fact questions ask about)
    angle: int = 0  # rotation in degrees, about the shape's centre
    dx: int = 0  # shift in pixels from the cell's centre (jitter)
    dy: int = 0

    @property
    def name(self) -> str:
        return f"{self.color} {self.shape}"


@dataclass(frozen=True)
class Distractor:
    """A grey outline that is not an object: never counted, named or captioned."""

    x: int  # centre, pixels
    y: int
    r: int  # radius of the circle it is drawn in, pixels
    shape: str
    angle: int = 0


@dataclass(frozen=True)
class Scene:
    grid: int
    objects: tuple[Obj, ...]
    # How the scene is drawn; the defaults draw the original world (and stay out of facts).
    cell_px: int | None = None  # None: the renderer's argument (28 by default)
    scale: float = 1.0  # objects drawn at this fraction of the original size
    inscribed: bool = False  # squares and triangles drawn in the circle that fits the box (rotation)
    palette: tuple[tuple[str, tuple[int, int, int]], ...] | None = None  # None: RGB
    distractors: tuple[Distractor, ...] = ()
    noise: float = 0.0  # std of Gaussian pixel noise (0-255 scale)
    noise_seed: int = 0

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
        """Canonical text of the scene's content (used for hashing and de-duplication).

        Rendering details (jitter, rotation, palette, clutter, noise) are not content: an item
        drawn two ways is one item, in one split. Names outside the original world are written
        out in full ("(star)"), so a star is not a square ("s").
        """
        return ";".join(_key_part(o) for o in sorted(self.objects, key=_pos))

    def rgb(self, color: str) -> tuple[int, int, int]:
        return dict(self.palette)[color] if self.palette else RGB[color]

    def to_facts(self) -> dict:
        facts: dict[str, Any] = {"grid": self.grid, "objects": [_obj_facts(o) for o in self.objects]}
        if self.cell_px is not None:
            facts["cell_px"] = self.cell_px
        if self.scale != 1.0:
            facts["scale"] = self.scale
        if self.inscribed:
            facts["inscribed"] = True
        if self.palette is not None:
            facts["palette"] = {c: list(v) for c, v in self.palette}
        if self.distractors:
            facts["distractors"] = [_distractor_facts(d) for d in self.distractors]
        if self.noise:
            facts["noise"] = self.noise
            facts["noise_seed"] = self.noise_seed
        return facts

    @classmethod
    def from_facts(cls, facts: dict) -> Scene:
        palette = facts.get("palette")
        return cls(
            grid=int(facts["grid"]),
            objects=tuple(Obj(**o) for o in facts["objects"]),
            cell_px=int(facts["cell_px"]) if facts.get("cell_px") is not None else None,
            scale=float(facts.get("scale", 1.0)),
            inscribed=bool(facts.get("inscribed", False)),
            palette=tuple((c, (int(v[0]), int(v[1]), int(v[2]))) for c, v in palette.items()) if palette else None,
            distractors=tuple(Distractor(**d) for d in facts.get("distractors") or ()),
            noise=float(facts.get("noise", 0.0)),
            noise_seed=int(facts.get("noise_seed", 0)),
        )

    def caption(self) -> str:
        """Plain-English description: what a perfect perceiver would say."""
        parts = [
            f"a {_sized(o)} in row {o.row + 1}, column {o.col + 1}" for o in sorted(self.objects, key=_pos)
        ]
        n = len(self.objects)
        noun = "shape" if n == 1 else "shapes"
        return f"A {self.grid} by {self.grid} grid with {n} {noun}: " + "; ".join(parts) + "."


def _pos(o: Obj) -> tuple[int, int]:
    return (o.row, o.col)


def _sized(o: Obj) -> str:
    return f"{o.size} {o.name}" if o.size else o.name


def _key_part(o: Obj) -> str:
    c = o.color[0] if o.color in COLORS else f"({o.color})"
    s = o.shape[0] if o.shape in SHAPES else f"({o.shape})"
    return f"{o.row}{o.col}{c}{s}" + (f"({o.size})" if o.size else "")


def _obj_facts(o: Obj) -> dict:
    d: dict[str, Any] = {"row": o.row, "col": o.col, "shape": o.shape, "color": o.color}
    if o.size:
        d["size"] = o.size
    for k in ("angle", "dx", "dy"):
        if getattr(o, k):
            d[k] = getattr(o, k)
    return d


def _distractor_facts(d: Distractor) -> dict:
    return {"x": d.x, "y": d.y, "r": d.r, "shape": d.shape, "angle": d.angle}


# ---------------------------------------------------------------- sampling


def sample_scene(rng: random.Random, grid: int, min_shapes: int, max_shapes: int,
                 shapes: tuple[str, ...] | list[str] = SHAPES, sizes: tuple[str, ...] | list[str] = ()) -> Scene:
    """A scene's content: which cells hold which shapes, of which colour (and size, if any).

    The random draws are exactly the original world's while `sizes` is empty.
    """
    n = rng.randint(min_shapes, max_shapes)
    cells = rng.sample([(r, c) for r in range(grid) for c in range(grid)], n)
    if not sizes:
        objs = tuple(Obj(r, c, rng.choice(shapes), rng.choice(COLORS)) for r, c in cells)
    else:
        objs = tuple(Obj(r, c, rng.choice(shapes), rng.choice(COLORS), rng.choice(sizes)) for r, c in cells)
    return Scene(grid=grid, objects=objs)


def sample_world_scene(rng: random.Random, world: ToyWorldSpec) -> Scene:
    """A scene of `world`, content and rendering details drawn from `rng` (vision pretraining).

    In the default world this draws exactly what `sample_scene` draws and nothing more.
    """
    scene = sample_scene(rng, world.grid, world.min_shapes, world.max_shapes, world_shapes(world),
                         tuple(world.sizes))
    return dress_scene(scene, world, rng)


def world_shapes(world: ToyWorldSpec) -> tuple[str, ...]:
    return tuple(world.shapes)


def shade_palette(distance: float) -> tuple[tuple[str, tuple[int, int, int]], ...]:
    """Near colours: the four colours pulled toward their mean until the closest two are
    `distance` apart (RGB, Euclidean; to within rounding). Each keeps its direction from the
    mean (red stays the reddest), so the names still order the colours the same way."""
    mean = [sum(RGB[c][i] for c in COLORS) / len(COLORS) for i in range(3)]
    k = distance / min_palette_distance(RGB)
    def channel(c: str, i: int) -> int:
        return min(255, max(0, round(mean[i] + k * (RGB[c][i] - mean[i]))))

    return tuple((c, (channel(c, 0), channel(c, 1), channel(c, 2))) for c in COLORS)


def dress_scene(scene: Scene, world: ToyWorldSpec, rng: random.Random) -> Scene:
    """Add `world`'s rendering details to a scene: cell size, object scale, near colours,
    rotation, jitter, distractors and noise, drawn from `rng` in that order.

    Each knob at its default draws nothing and records nothing, so a default world's scene
    comes back unchanged (and `rng` untouched). Jitter and distractors are redrawn until
    nothing overlaps and everything lies inside the image.
    """
    cell = world.cell_px
    scene = replace(
        scene,
        cell_px=cell if cell != 28 else None,
        scale=float(world.object_scale),
        inscribed=world.rotate > 0,
        palette=shade_palette(world.color_distance) if world.shades else None,
        noise=float(world.noise),
    )
    objs = list(scene.objects)
    if world.rotate > 0:
        objs = [replace(o, angle=rng.randint(-world.rotate, world.rotate)) for o in objs]
    if world.jitter_px > 0:
        objs = _jitter(objs, scene, cell, world.jitter_px, rng)
    scene = replace(scene, objects=tuple(objs))
    if world.distractors > 0:
        scene = replace(scene, distractors=_distractors(scene, cell, world, rng))
    if world.noise > 0:
        scene = replace(scene, noise_seed=rng.getrandbits(32))
    return scene


def _jitter(objs: list[Obj], scene: Scene, cell: int, j: int, rng: random.Random) -> list[Obj]:
    """Shift each object by up to `j` px (x and y): it may cross into the next merged token, but
    its centre stays in its own cell (`j` < cell / 2), it stays inside the image, and it keeps a
    pixel of white from every other object. Objects are placed in turn (a few tries each); if one
    finds no place the whole scene is redrawn, and after 50 redraws the scene keeps no shift."""
    size = scene.grid * cell
    for _ in range(50):
        placed: list[tuple[int, int, int, int]] = []
        out: list[Obj] = []
        for o in objs:
            for _try in range(20):
                cand = replace(o, dx=rng.randint(-j, j), dy=rng.randint(-j, j))
                fp = footprint(cand, scene, cell)
                if _inside(fp, size) and not any(_touch(fp, p) for p in placed):
                    break
            else:
                break
            placed.append(fp)
            out.append(cand)
        else:
            return out
    return [replace(o, dx=0, dy=0) for o in objs]


def _distractors(scene: Scene, cell: int, world: ToyWorldSpec, rng: random.Random) -> tuple[Distractor, ...]:
    """Up to `world.distractors` grey outlines, each in a free spot (clear of every object and
    every other distractor by a pixel, inside the image); smaller than the objects (radius a
    quarter to a half of an object's). One that finds no spot in 50 tries is left out."""
    size = scene.grid * cell
    taken = [footprint(o, scene, cell) for o in scene.objects]
    obj_r = max(2, (cell - 2 * _pad(cell)) * scene.scale / 2)
    lo, hi = max(2, round(obj_r / 4)), max(3, round(obj_r / 2))
    shapes = world_shapes(world)
    out: list[Distractor] = []
    for _ in range(world.distractors):
        for _try in range(50):
            r = rng.randint(lo, hi)
            d = Distractor(x=rng.randint(r, size - 1 - r), y=rng.randint(r, size - 1 - r), r=r,
                           shape=rng.choice(shapes), angle=rng.randrange(360))
            fp = _distractor_footprint(d)
            if _inside(fp, size) and not any(_touch(fp, t) for t in taken):
                taken.append(fp)
                out.append(d)
                break
    return tuple(out)


# ---------------------------------------------------------------- geometry


def _pad(cell: int) -> int:
    return max(2, cell // 7)


def object_box(o: Obj, cell: int, scale: float = 1.0) -> tuple[int, int, int, int]:
    """The box (x0, y0, x1, y1) an object is drawn in: the original world's box in its cell,
    shrunk about its centre by `scale` (and the size's factor), then shifted by (dx, dy)."""
    pad = _pad(cell)
    x0, y0 = o.col * cell + pad, o.row * cell + pad
    x1, y1 = (o.col + 1) * cell - pad, (o.row + 1) * cell - pad
    s = scale * SIZE_SCALE.get(o.size, 1.0)
    if s != 1.0:
        m = round((x1 - x0) * (1 - s) / 2)
        x0, y0, x1, y1 = x0 + m, y0 + m, x1 - m, y1 - m
    return x0 + o.dx, y0 + o.dy, x1 + o.dx, y1 + o.dy


def _unit_polygon(shape: str, inscribed: bool) -> list[tuple[float, float]]:
    """Vertices of a shape of radius 1 about (0, 0), y down, pointing up."""
    def regular(n: int, start: float = -90.0, radii: tuple[float, ...] = (1.0,)) -> list[tuple[float, float]]:
        return [(radii[k % len(radii)] * math.cos(math.radians(start + 360 * k / n)),
                 radii[k % len(radii)] * math.sin(math.radians(start + 360 * k / n))) for k in range(n)]

    if shape == "square":
        return regular(4, -45) if inscribed else [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    if shape == "triangle":
        return regular(3) if inscribed else [(0, -1), (1, 1), (-1, 1)]
    if shape == "diamond":
        return [(0, -1), (0.55, 0), (0, 1), (-0.55, 0)]
    if shape == "pentagon":
        return regular(5)
    if shape == "hexagon":
        return regular(6)
    if shape == "star":
        return regular(10, radii=(1.0, 0.42))
    raise ValueError(f"unknown shape {shape!r}; the renderer draws {', '.join(ALL_SHAPES)}")


def _polygon(shape: str, box: tuple[float, float, float, float], angle: float,
             inscribed: bool) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = box
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
    a = math.radians(angle)
    ca, sa = math.cos(a), math.sin(a)
    return [(cx + r * (x * ca - y * sa), cy + r * (x * sa + y * ca)) for x, y in _unit_polygon(shape, inscribed)]


def _legacy(shape: str, angle: int, inscribed: bool) -> bool:
    """Drawn by the original world's calls (so default renders stay byte-identical)."""
    return shape == "circle" or (shape in ("square", "triangle") and angle == 0 and not inscribed)


def _draw(draw: ImageDraw.ImageDraw, shape: str, box: tuple[int, int, int, int], angle: int, inscribed: bool,
          fill: tuple[int, int, int] | None = None, outline: tuple[int, int, int] | None = None) -> None:
    x0, y0, x1, y1 = box
    if fill is not None and _legacy(shape, angle, inscribed):  # the original world's calls, verbatim
        if shape == "circle":
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        elif shape == "square":
            draw.rectangle((x0, y0, x1, y1), fill=fill)
        else:
            draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=fill)
        return
    if shape == "circle":
        draw.ellipse((x0, y0, x1, y1), fill=fill, outline=outline, width=1)
    else:
        draw.polygon(_polygon(shape, box, angle, inscribed), fill=fill, outline=outline)


def _bounds(shape: str, box: tuple[int, int, int, int], angle: int, inscribed: bool) -> tuple[int, int, int, int]:
    if _legacy(shape, angle, inscribed):
        return box
    pts = _polygon(shape, box, angle, inscribed)
    return (math.floor(min(p[0] for p in pts)), math.floor(min(p[1] for p in pts)),
            math.ceil(max(p[0] for p in pts)), math.ceil(max(p[1] for p in pts)))


def footprint(o: Obj, scene: Scene, cell: int) -> tuple[int, int, int, int]:
    """Pixel bounds (x0, y0, x1, y1), inclusive, that the object's drawing stays within."""
    return _bounds(o.shape, object_box(o, cell, scene.scale), o.angle, scene.inscribed)


def _distractor_footprint(d: Distractor) -> tuple[int, int, int, int]:
    return _bounds(d.shape, (d.x - d.r, d.y - d.r, d.x + d.r, d.y + d.r), d.angle, True)


def _inside(fp: tuple[int, int, int, int], size: int) -> bool:
    return fp[0] >= 0 and fp[1] >= 0 and fp[2] <= size - 1 and fp[3] <= size - 1


def _touch(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether two bounds come closer than one white pixel."""
    return not (a[2] + 1 < b[0] or b[2] + 1 < a[0] or a[3] + 1 < b[1] or b[3] + 1 < a[1])


# ---------------------------------------------------------------- rendering


def render_scene(scene: Scene, cell_px: int | None = None) -> Image.Image:
    """Draw the scene: white background, one filled shape per occupied cell, then any grey
    distractor outlines, then any pixel noise (seeded by the scene, so a render is a function
    of its facts). The scene's own `cell_px`, where it records one, wins over `cell_px`."""
    cell = scene.cell_px or cell_px or 28
    size = scene.grid * cell
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for o in scene.objects:
        _draw(draw, o.shape, object_box(o, cell, scene.scale), o.angle, scene.inscribed, fill=scene.rgb(o.color))
    for d in scene.distractors:
        _draw(draw, d.shape, (d.x - d.r, d.y - d.r, d.x + d.r, d.y + d.r), d.angle, True, outline=DISTRACTOR_RGB)
    if scene.noise > 0:
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        arr = arr + np.random.default_rng(scene.noise_seed).normal(0.0, scene.noise, arr.shape)
        img = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "RGB")
    return img


def blank_like(img: Image.Image) -> Image.Image:
    """The image-ablation control: same size, nothing drawn."""
    return Image.new("RGB", img.size, (255, 255, 255))
