#!/bin/sh
# Every figure of research/fusion/README.md, from the two pickles of extract.py.
#   [HOLDS="H1.pkl H2.pkl ..."] sh research/fusion/run_all.sh TUNE.pkl MARGIN.pkl OUTDIR
set -e
T=$1; M=$2; O=$3
mkdir -p "$O"
fit() { OMP_NUM_THREADS=1 nice -n 19 python research/fusion/fit.py "$T" "$M" --pos-window 30 --ks 1,3 "$@"; }
LR=""
MIL="--mil --lam 0.01 --beta 2 --neg 3"
# the engine's own score (the fusion's sum of agreeing levels, the agreeing count, the paired seconds)
fit --only engine --curve --budgets 0,1,2,3,4,6 --evidence > "$O/engine.txt"
# the learned scores, every feature: per fold, by condition, the curve, the evidence, the coefficients
fit $LR --curve --budgets 0,1,2,3,4,6,30 --evidence --coef > "$O/lr.txt"
fit $MIL --curve --budgets 0,1,2,3,4,6,30 --evidence --coef > "$O/mil.txt"
# the same rule with the training folds allowed main's share of false criticals (6 of 612: 1 %)
fit $MIL --allow 0.01 > "$O/mil_allow1.txt"
fit $LR --allow 0.01 > "$O/lr_allow1.txt"
fit --only engine --allow 0.01 --brief > "$O/engine_allow1.txt"
# folds with a cell's two calls apart (as the test half shares the tuning half's cells)
fit $MIL --fold-by replicate --curve --budgets 0,2,6 --brief > "$O/mil_replicate.txt"
fit $LR --fold-by replicate --curve --budgets 0,2,6 --brief > "$O/lr_replicate.txt"
fit --only engine --fold-by replicate --curve --budgets 0,2,6 --brief > "$O/engine_replicate.txt"
# settings of the file-level objective
for s in "--lam 0.001" "--lam 0.1" "--beta 1" "--beta 4" "--neg 1" "--monotone"; do
  echo "== $s"; fit $MIL $s --curve --budgets 0,2,6 --brief --ks 1
done > "$O/mil_settings.txt"
# which evidence carries it: each group of features left out, and each alone
for g in grade short abs change sustained cusum pair product order engine context; do
  echo "== drop $g"; fit $MIL --drop $g --curve --budgets 0,2,6 --brief --ks 1
  echo "== only $g"; fit $MIL --only $g --curve --budgets 0,2,6 --brief --ks 1
done > "$O/mil_groups.txt"
for g in tempo pausing latency voice loudness; do
  echo "== drop family $g"
  fit $MIL --without $g --curve --budgets 0,2,6 --brief --ks 1
done > "$O/mil_families.txt"
# one threshold over the pooled out-of-fold scores (k 1): no false critical (budget 0), or main's 6
fit --only engine --ks 1 --at 0 > "$O/engine_at0.txt"
fit $MIL --ks 1 --at 0 > "$O/mil_at0.txt"
fit $MIL --ks 1 --at 6 > "$O/mil_at6.txt"
# healthy calls with babble holds that neither fit saw (extract.py pickles of HOLDS, LONG, short90, QUEUE)
if [ -n "$HOLDS" ]; then
  for s in "--only engine" "" "$MIL" "$MIL --only cusum,pair:level,context"; do
    OMP_NUM_THREADS=1 nice -n 19 python research/fusion/apply.py "$T" "$M" $HOLDS $s
  done > "$O/holds.txt"
fi
OMP_NUM_THREADS=1 nice -n 19 python research/fusion/bound.py "$T" "$M" > "$O/bound.txt"
