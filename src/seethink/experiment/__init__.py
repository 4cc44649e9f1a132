"""Experiments: the paper's study as arms x seeds from one base, scored on one shared evaluation.

- `arms`: what each arm trains.
- `units`: one arm x seed trained and evaluated; the base's evaluation; pass rates.
- `run`: the grid in worker processes, resumable.
- `results`: reading finished units back, pooled over directories.
- `claims`: the paper's claims as contrasts with intervals and verdicts.
- `probe`: perception-error attribution at evaluation time (sub-question probes) and its readings.
- `attribution`: per reading, the flagged share of each arm's wrong and right answers (study and sweep).
- `report`: the study's report as blocks: claims, arms, contrasts, lengths, attribution, design.
- `sweep`: the sweep's report (`experiment.settings`): one row per setting, the dose-response plot.
- `render`: report blocks written out as EXP/report.md (plots beside it) and EXP/report.html.
- `plots`: the reports' plots as PNG bytes.
"""
