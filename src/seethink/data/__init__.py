"""Data: items, the toy world, tasks and prompts."""
