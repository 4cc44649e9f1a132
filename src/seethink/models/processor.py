"""A thin processor shim shared by the toy builder, the loader and training.

Two problems are fixed by subclassing the model's own processor class (so TRL and
transformers still see the real class and every method behaves as upstream):

1. Without torchvision a processor cannot build its video part, and `ProcessorMixin`
   refuses `video_processor=None`. The subclass drops video from its attributes.
2. In a batch that mixes image rows and text-only rows, TRL hands the processor
   `None` for the text rows; processors accept `[]` but raise on `None`. The subclass
   maps `None` to `[]` so mixed (merged-stage) batches work and text rows stay text-only.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers.processing_utils import ProcessorMixin


def torchvision_usable() -> bool:
    try:
        import torchvision  # noqa: F401
    except Exception:  # ImportError, or RuntimeError from a mismatched build
        return False
    return True


_SHIMS: dict[type, type] = {}


def shim_class(cls: type[ProcessorMixin]) -> type:
    """A subclass of a ProcessorMixin class with the two fixes above (one per class)."""
    if getattr(cls, "_seethink_shim", False):
        return cls
    if cls in _SHIMS:
        return _SHIMS[cls]
    drop_video = not torchvision_usable()

    class Shim(cls):  # type: ignore[valid-type, misc]
        _seethink_shim = True

        @classmethod
        def get_attributes(klass) -> list[str]:  # noqa: N805 - mirrors the upstream classmethod
            attrs: list[str] = cls.get_attributes()  # upstream's, read from its own __init__ signature
            return [a for a in attrs if a != "video_processor"] if drop_video else attrs

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if drop_video and not hasattr(self, "video_processor"):
                self.video_processor = None

        def to_dict(self) -> dict[str, Any]:
            out = super().to_dict()
            if out.get("video_processor", False) is None:  # never save "no video processor"
                del out["video_processor"]
            return out

        def __call__(self, images: Any = None, text: Any = None, *args: Any, **kwargs: Any) -> Any:
            if isinstance(images, list) and any(x is None for x in images):
                images = [[] if x is None else x for x in images]
                if all(x == [] for x in images):
                    images = None
            return super().__call__(images, text, *args, **kwargs)

    # Keep the upstream name so saved processor configs stay loadable by plain transformers, and
    # the upstream __init__ signature: `to_dict` saves only attributes named there (e.g.
    # InternVL's image_seq_length).
    Shim.__init__.__signature__ = inspect.signature(cls.__init__)  # type: ignore[attr-defined, misc]
    Shim.__name__ = cls.__name__
    Shim.__qualname__ = cls.__qualname__
    _SHIMS[cls] = Shim
    return Shim


def apply_shim(processor: Any) -> Any:
    """Give an existing processor instance the shim's behaviour (in place)."""
    from transformers.processing_utils import ProcessorMixin

    if isinstance(processor, ProcessorMixin):
        processor.__class__ = shim_class(type(processor))
        if not hasattr(processor, "video_processor"):
            processor.video_processor = None
    return processor
