"""Evaluation: generation engine, toy held-out sets, benchmarks and scoring."""
