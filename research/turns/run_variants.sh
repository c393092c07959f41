#!/bin/sh
# Tuning half: the critical per-turn rule with other turn settings (each a cue recompute).
set -e
OUT=${1:-research/turns/out}
E="env PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python -m tools.evaluate audio_fixtures/generated/eval --split tune -j 1 --files"
RULE="--set rules.slow_turns.cue=turn_articulation_sps --set rules.slow_turns.direction=below --set rules.slow_turns.short_window=false --set rules.slow_turns.min_speech_s=0 --set rules.slow_turns.mad_k=0 --set rules.slow_turns.severity=critical --set rules.slow_turns.persist_s=0"
for R in 0.35 0.38 0.40 0.42; do
  $E $RULE --set analysis.turn_rate_turns=2 --set analysis.turn_min_speech_s=1.5 --set rules.slow_turns.relative_change=-$R --json $OUT/ms15_r$R.json > $OUT/ms15_r$R.txt
done
for R in 0.30 0.35 0.40; do
  $E $RULE --set analysis.turn_rate_turns=3 --set rules.slow_turns.relative_change=-$R --json $OUT/n3_r$R.json > $OUT/n3_r$R.txt
done
for R in 0.42; do
  $E $RULE --set analysis.turn_rate_turns=2 --set rules.slow_turns.relative_change=-$R --json $OUT/crit_r${R}_p0.json > $OUT/crit_r${R}_p0.txt
done
