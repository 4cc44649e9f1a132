"""Loading any local HF vision-language model directory, offline.

`AutoProcessor` quietly returns a bare tokenizer when a processor's video part cannot
be built (torchvision missing, as on our CPU machines); a VLM without its image
processor then fails much later with confusing errors. `load_processor` detects that
and assembles the processor from its parts, with no video processor.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seethink.errors import UserError
from seethink.models.processor import apply_shim, shim_class


def _check_dir(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.is_dir():
        raise UserError(f"model path not found or not a directory: {path}")
    if not (p / "config.json").is_file():
        raise UserError(f"{path}: no config.json; expected a Hugging Face model directory")
    return p


def _processor_class_name(p: Path) -> str | None:
    for name in ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json"):
        f = p / name
        if f.is_file():
            try:
                data = json.loads(f.read_text())
            except json.JSONDecodeError:
                continue
            if data.get("processor_class"):
                return str(data["processor_class"])
    return None


def _processor_kwargs(p: Path, cls: type) -> dict[str, Any]:
    """Plain settings saved in processor_config.json that the processor's __init__ takes
    (e.g. InternVL's image_seq_length); the sub-processors are built separately."""
    import inspect

    f = p / "processor_config.json"
    if not f.is_file():
        return {}
    try:
        data = json.loads(f.read_text())
    except json.JSONDecodeError:
        return {}
    params = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    skip = {"self", "image_processor", "tokenizer", "video_processor", "chat_template", "processor_class"}
    return {k: v for k, v in data.items() if k in params and k not in skip and not isinstance(v, dict)}


def load_processor(path: str | Path, trust_remote_code: bool = False) -> Any:
    import transformers
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer
    from transformers.processing_utils import ProcessorMixin

    p = _check_dir(path)
    try:
        proc = AutoProcessor.from_pretrained(p, trust_remote_code=trust_remote_code, local_files_only=True)
    except (ImportError, ValueError, OSError, TypeError):
        proc = None
    if isinstance(proc, ProcessorMixin) and getattr(proc, "image_processor", None) is not None:
        return apply_shim(proc)
    # Assemble it ourselves: tokenizer + image processor, no video processor.
    cls_name = _processor_class_name(p)
    if cls_name is None or not hasattr(transformers, cls_name):
        if proc is not None:
            return proc  # a text-only model: its tokenizer is its processor
        raise UserError(f"{path}: cannot tell which processor this model uses")
    cls = shim_class(getattr(transformers, cls_name))
    tok = AutoTokenizer.from_pretrained(p, trust_remote_code=trust_remote_code, local_files_only=True)
    try:
        ip = AutoImageProcessor.from_pretrained(p, local_files_only=True, backend="pil")
    except (TypeError, ValueError):
        ip = AutoImageProcessor.from_pretrained(p, local_files_only=True)
    template = getattr(tok, "chat_template", None)
    tpl_file = p / "chat_template.jinja"
    if tpl_file.is_file():
        template = tpl_file.read_text()
    return cls(image_processor=ip, tokenizer=tok, chat_template=template, **_processor_kwargs(p, cls))


def load_model(path: str | Path, trust_remote_code: bool = False, dtype: str = "float32") -> tuple[Any, Any]:
    """(model, processor) from a local directory via AutoModelForImageTextToText."""
    import torch
    from transformers import AutoModelForImageTextToText

    p = _check_dir(path)
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    try:
        model = AutoModelForImageTextToText.from_pretrained(
            p, dtype=torch_dtype, trust_remote_code=trust_remote_code, local_files_only=True
        )
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise UserError(
                f"{path}: this model ships its own code; pass model.trust_remote_code=true if you trust it"
            ) from None
        raise UserError(f"{path}: cannot load as an image-text-to-text model: {exc}") from None
    processor = load_processor(p, trust_remote_code=trust_remote_code)
    return model, processor
