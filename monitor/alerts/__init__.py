"""Alerts: the rules that compare each cue with the caller's baseline and the fusion that raises\nwarnings and critical alerts, and their evidence in words (the call report's and the console's)."""
