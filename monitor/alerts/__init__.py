"""Alerts: the rules that compare each cue with the caller's baseline, the fusion that raises
warnings and critical alerts, and their evidence in words (as the report and the console say it)."""
