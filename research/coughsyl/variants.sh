#!/bin/sh
# Training-side figures of the breath-lean variants (research/onset/fig.py overrides SyllableParams in the tool's process).
#   sh research/coughsyl/variants.sh <the shared data folder> OUTDIR
shared=$1; out=$2; mkdir -p "$out"
for v in "80 0.0" "80 0.5" "80 -0.5" "70 0.0" "100 0.0" "100 0.5"; do
  set -- $v
  OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python research/onset/fig.py syl.breath_periodic_frames=$1 syl.max_breath_lean=$2 -- \
    --shared "$shared" --mixes 150 --figures-on train > "$out/train_$1_$2.txt" 2>&1
done
