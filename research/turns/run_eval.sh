#!/bin/sh
# tools.evaluate on the tuning half (or another folder, $EV / $SPLIT), defaults against the
# per-turn articulation rule (analysis.turn_rate_turns on; a rule slow_turns made by --set).
# usage: sh research/turns/run_eval.sh OUTDIR [EV] [SPLIT]
set -e
OUT=${1:-research/turns/out}
EV=${2:-audio_fixtures/generated/eval}
SPLIT=${3:-tune}
E="env PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python -m tools.evaluate $EV --split $SPLIT -j 1 --files"
RULE="--set analysis.turn_rate_turns=2 --set rules.slow_turns.cue=turn_articulation_sps --set rules.slow_turns.direction=below --set rules.slow_turns.short_window=false --set rules.slow_turns.min_speech_s=0"
$E --json $OUT/defaults.json > $OUT/defaults.txt
# the rule as a critical of its own (no fusion): relative_change R, mad_k K, persist_s P
for R in 0.35 0.38 0.40 0.45; do
  for P in 0 5; do
    $E $RULE --set rules.slow_turns.relative_change=-$R --set rules.slow_turns.mad_k=0 \
      --set rules.slow_turns.persist_s=$P --set rules.slow_turns.severity=critical \
      --json $OUT/crit_r${R}_p${P}.json > $OUT/crit_r${R}_p${P}.txt
  done
done
# the rule's grade in the tempo family of possible_emergency (a warning itself)
KINDS='rules.possible_emergency.kinds=["slow_speech","long_pauses","slow_response","short_phrases","breathy_voice","weak_voice","slow_turns"]'
for R in 0.3 0.38; do
  $E $RULE --set rules.slow_turns.relative_change=-$R --set rules.slow_turns.mad_k=0 --set rules.slow_turns.persist_s=15 \
    --set "$KINDS" --json $OUT/fused_r${R}.json > $OUT/fused_r${R}.txt
done
