#!/bin/sh
# The new healthy calls of research/margin/make_calls.py (NEW, --split all): defaults and the
# critical per-turn rule at a few relative changes (persist 0).
# usage: sh research/turns/run_new.sh NEW OUTDIR
set -e
NEW=$1
OUT=${2:-research/turns/out/new}
E="env PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python -m tools.evaluate $NEW --split all -j 1 --files"
RULE="--set analysis.turn_rate_turns=2 --set rules.slow_turns.cue=turn_articulation_sps --set rules.slow_turns.direction=below --set rules.slow_turns.short_window=false --set rules.slow_turns.min_speech_s=0 --set rules.slow_turns.mad_k=0 --set rules.slow_turns.severity=critical"
[ -f $OUT/defaults.json ] || $E --json $OUT/defaults.json > $OUT/defaults.txt
for R in 0.40 0.45 0.35; do
  for P in 0 5; do
  $E $RULE --set rules.slow_turns.relative_change=-$R --set rules.slow_turns.persist_s=$P --json $OUT/crit_r${R}_p$P.json > $OUT/crit_r${R}_p$P.txt
  done
done
