"""Reports: summary tables, markdown and plots from a run directory."""
