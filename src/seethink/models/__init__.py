"""Models: the embedded tiny VLM builder and the loader for local HF VLM directories."""

from seethink.models.load import load_model, load_processor

__all__ = ["load_model", "load_processor"]
