"""Experiments: the paper's study as arms x seeds from one base, scored on one shared evaluation.

`arms` (what each arm trains), `units` (one arm x seed trained and evaluated; the base's
evaluation; pass rates), `run` (the grid in worker processes, resumable), `results` (reading
finished units back, pooled over directories), `claims` (the paper's claims as contrasts with
intervals and verdicts), `probe` (perception-error attribution), `report` (Markdown + HTML).
"""
