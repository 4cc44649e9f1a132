"""Loading recipes: dataclass defaults <- recipe YAML <- `key.sub=value` overrides, then validated.

Unknown keys are rejected with the nearest valid key, values are type-checked and converted to the
annotated types, and `dump_recipe` writes the resolved recipe (each stage's trainer in full) that a
run saves in its directory, so the run can be replayed from that file alone.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from seethink.config.schema import ArmSpec, Recipe, StageSpec, TrainerSpec, stage_trainer
from seethink.config.validate import validate
from seethink.errors import UserError

# ---------------------------------------------------------------- conversion


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check/convert a YAML value to the annotated type; raise UserError naming the key."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise UserError(f"config key '{where}': expected a mapping, got {value!r}")
        return _from_dict(typing.cast(type, tp), value, where)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], where)
    if origin is list:
        return _coerce_list(value, tp, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"config key '{where}': expected a mapping, got {value!r}")
        return dict(value)
    scalar = next((fn for t, fn in _SCALARS if t is tp), None)
    return scalar(value, where) if scalar is not None else value


def _coerce_list(value: Any, tp: Any, where: str) -> list[Any]:
    (item_tp,) = typing.get_args(tp)
    if isinstance(value, str) and item_tp is str:
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        raise UserError(f"config key '{where}': expected a list, got {value!r}")
    if dataclasses.is_dataclass(item_tp) and "name" in _hints(typing.cast(type, item_tp)):
        # `arms: [staged, merged]`: a bare name stands for {name: ...}
        value = [{"name": v} if isinstance(v, str) else v for v in value]
    return [_coerce(v, item_tp, f"{where}.{i}") for i, v in enumerate(value)]


def _coerce_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    raise UserError(f"config key '{where}': expected true/false, got {value!r}")


def _coerce_int(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise UserError(f"config key '{where}': expected an integer, got {value!r}")


def _coerce_float(value: Any, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):  # YAML reads 1e-6 (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    raise UserError(f"config key '{where}': expected a number, got {value!r}")


def _coerce_str(value: Any, where: str) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise UserError(f"config key '{where}': expected a string, got {value!r}")


# looked up by identity: a resolved annotation is the type object itself
_SCALARS: tuple[tuple[type, typing.Callable[[Any, str], Any]], ...] = (
    (bool, _coerce_bool), (int, _coerce_int), (float, _coerce_float), (str, _coerce_str),
)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unknown_key(cls: type, key: str, where: str) -> UserError:
    prefix = f"{where}." if where else ""
    valid = [f"{prefix}{k}" for k in valid_keys(cls)]
    full = f"{prefix}{key}"
    near = difflib.get_close_matches(full, valid, n=1, cutoff=0.5)
    hint = f"; did you mean '{near[0]}'?" if near else ""
    return UserError(f"unknown config key '{full}'{hint}")


def _from_dict(cls: type, data: dict[str, Any], where: str = "") -> Any:
    hints = _hints(cls)
    kwargs = {}
    for key, value in data.items():
        if key not in hints:
            raise _unknown_key(cls, key, where)
        sub = f"{where}.{key}" if where else key
        kwargs[key] = _coerce(value, hints[key], sub)
    obj = cls(**kwargs)
    if cls is StageSpec:
        _check_trainer_overrides(obj.trainer, f"{where}.trainer")
    if cls is ArmSpec:
        _check_trainer_overrides(obj.trainer, f"{where}.trainer")
        for name, block in obj.stage_trainer.items():
            if not isinstance(block, dict):
                raise UserError(f"config key '{where}.stage_trainer.{name}': expected a mapping of trainer keys")
            _check_trainer_overrides(block, f"{where}.stage_trainer.{name}")
    return obj


def _check_trainer_overrides(overrides: dict[str, Any], where: str) -> None:
    hints = _hints(TrainerSpec)
    for key, value in overrides.items():
        if key not in hints:
            raise _unknown_key(TrainerSpec, key, where)
        overrides[key] = _coerce(value, hints[key], f"{where}.{key}")


def valid_keys(cls: type) -> list[str]:
    """Every dotted key of a dataclass (lists of dataclasses shown with index 0)."""
    out: list[str] = []
    for name, tp in _hints(cls).items():
        out.append(name)
        if dataclasses.is_dataclass(tp):
            out += [f"{name}.{k}" for k in valid_keys(typing.cast(type, tp))]
        elif typing.get_origin(tp) is list and dataclasses.is_dataclass(typing.get_args(tp)[0]):
            out += [f"{name}.0.{k}" for k in valid_keys(typing.get_args(tp)[0])]
    if cls is StageSpec:
        out += [f"trainer.{k}" for k in valid_keys(TrainerSpec)]
    return out


def to_dict(obj: Any) -> Any:
    return dataclasses.asdict(obj)


# ---------------------------------------------------------------- overrides


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node: Any = tree
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(node, list):
            idx = int(part)
            if idx >= len(node):
                raise UserError(f"config key '{dotted}': index {idx} is out of range ({len(node)} items)")
            node = node[idx]
            continue
        if part not in node or node[part] is None:
            node[part] = [] if nxt.isdigit() else {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        idx = int(last)
        if idx >= len(node):
            raise UserError(f"config key '{dotted}': index {idx} is out of range ({len(node)} items)")
        node[idx] = value
    else:
        node[last] = value


def parse_overrides(items: list[str]) -> list[tuple[str, Any]]:
    out = []
    for item in items:
        if "=" not in item:
            raise UserError(f"override '{item}' must look like key.sub=value")
        key, raw = item.split("=", 1)
        out.append((key.strip(), yaml.safe_load(raw) if raw != "" else ""))
    return out


def load_recipe(path: str | Path | None = None, overrides: list[str] | None = None) -> Recipe:
    """Defaults <- YAML file (if any, on top of the recipes it `extends`) <- key=value overrides, validated."""
    tree: dict[str, Any] = to_dict(Recipe())
    if path is not None:
        loaded = _read_recipe(Path(path), ())
        if "stages" in loaded:
            tree["stages"] = []  # a recipe's stage list replaces the default list
        tree = _deep_merge(tree, loaded)
    for key, value in parse_overrides(overrides or []):
        _validate_dotted(key)
        _set_dotted(tree, key, value)
    recipe = _from_dict(Recipe, tree)
    validate(recipe)
    return recipe


def _read_recipe(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """A recipe file's keys on top of those of the recipe it names in `extends` (a path relative to
    it), so a variant of a recipe states only what differs (lists, stages included, replace)."""
    if not path.is_file():
        where = f" (extended by {chain[-1]})" if chain else ""
        raise UserError(f"recipe file not found: {path}{where}")
    if path.resolve() in chain:
        raise UserError(f"{path}: recipes extend each other in a loop ({' -> '.join(map(str, (*chain, path)))})")
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(loaded, dict):
        raise UserError(f"{path}: a recipe must be a mapping of keys")
    parent = loaded.pop("extends", None)
    try:
        _validate_keys(loaded, Recipe, "")
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    if parent is None:
        return loaded
    if not isinstance(parent, str):
        raise UserError(f"{path}: 'extends' must be the path of another recipe, got {parent!r}")
    return _deep_merge(_read_recipe(path.parent / parent, (*chain, path.resolve())), loaded)


def _validate_keys(data: dict[str, Any], cls: type, where: str) -> None:
    hints = _hints(cls)
    for key, value in data.items():
        if key not in hints:
            raise _unknown_key(cls, key, where)
        tp = hints[key]
        sub = f"{where}.{key}" if where else key
        if dataclasses.is_dataclass(tp) and isinstance(value, dict):
            _validate_keys(value, typing.cast(type, tp), sub)


def _validate_dotted(key: str) -> None:
    cls: Any = Recipe
    walked: list[str] = []
    parts = key.split(".")
    i = 0
    while i < len(parts):
        part = parts[i]
        if cls is dict:  # a stage's trainer override block
            if walked and walked[-1] == "stage_trainer" and i + 1 < len(parts):  # arm: stage name, then key
                walked.append(part)
                i += 1
                part = parts[i]
            if part not in _hints(TrainerSpec):
                raise _unknown_key(TrainerSpec, part, ".".join(walked))
            return
        hints = _hints(cls)
        if part not in hints:
            raise _unknown_key(cls, part, ".".join(walked))
        tp = hints[part]
        walked.append(part)
        if typing.get_origin(tp) is list and dataclasses.is_dataclass(typing.get_args(tp)[0]):
            if i + 1 < len(parts):
                if not parts[i + 1].isdigit():
                    raise UserError(f"config key '{key}': '{part}' is a list; use {part}.N.<key>")
                walked.append(parts[i + 1])
                i += 1
            cls = typing.get_args(tp)[0]
        elif typing.get_origin(tp) is dict:
            cls = dict
        else:
            cls = tp
        i += 1


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def with_overrides(recipe: Recipe, overrides: list[str]) -> Recipe:
    """A resolved recipe with `key.sub=value` overrides applied on top (validated like the CLI's)."""
    tree = yaml.safe_load(dump_recipe(recipe))
    for key, value in parse_overrides(overrides):
        _validate_dotted(key)
        _set_dotted(tree, key, value)
    out = _from_dict(Recipe, tree)
    validate(out)
    return out


def dump_recipe(recipe: Recipe) -> str:
    data = to_dict(recipe)
    # Save each stage's fully resolved trainer so the file alone says what ran.
    data["stages"] = [
        {**to_dict(s), "trainer": to_dict(stage_trainer(recipe, s))} for s in recipe.stages
    ]
    return yaml.safe_dump(data, sort_keys=False)
