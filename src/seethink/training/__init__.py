"""Training: warm start of the toy base, one stage over TRL, and the stage pipeline."""
