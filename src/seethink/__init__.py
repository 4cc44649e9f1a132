"""seethink: capability-curriculum RL post-training for vision-language models."""

import os as _os

# Offline by design: models and data come from local paths, never from a hub.
_os.environ.setdefault("HF_HUB_OFFLINE", "1")
_os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
_os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

__version__ = "0.1.0"
