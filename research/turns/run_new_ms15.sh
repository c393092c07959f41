#!/bin/sh
# The new healthy calls: the critical per-turn rule with turns of at least 1.5 s of speech.
set -e
NEW=$1
OUT=${2:-research/turns/out/new}
E="env PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python -m tools.evaluate $NEW --split all -j 1 --files"
RULE="--set analysis.turn_rate_turns=2 --set analysis.turn_min_speech_s=1.5 --set rules.slow_turns.cue=turn_articulation_sps --set rules.slow_turns.direction=below --set rules.slow_turns.short_window=false --set rules.slow_turns.min_speech_s=0 --set rules.slow_turns.mad_k=0 --set rules.slow_turns.severity=critical --set rules.slow_turns.persist_s=0"
for R in 0.40 0.45; do
  $E $RULE --set rules.slow_turns.relative_change=-$R --json $OUT/ms15_r$R.json > $OUT/ms15_r$R.txt
done
