#!/usr/bin/env bash
# Issue 21, in order, one heavy job at a time (WORKERS one-thread processes, nice), resumable:
#   1. the dense-init sweep at Match-Tuning's held-out T and lr (sweep_temperature.sh STAGE=init)
#   2. suites/pm-glue-chosen-t.yaml from the held-out choice (sweep_summary.py --chosen), then run.sh's
#      stage chosen: vanilla, Match-Tuning at that T and dense-head on SST-2, SEEDS (default 1-6), GLUE dev,
#      AdvGLUE and the two attacks on the same checkpoints
#   3. the STS-B diagnosis: Match-Tuning trained as in Table 1 (T = 0.5, 1,000 rows, seeds 1-3), scored with
#      and without M at inference (stsb_diagnosis.py -> stsb_diagnosis.md)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/settings.sh"
[ -n "${RBM_CODE:-}" ] && export PYTHONPATH=$RBM_CODE
export SEEDS=${SEEDS:-"1 2 3 4 5 6"}
read -r T LR INIT < <("$PY" "$HERE/sweep_summary.py" --chosen)
echo "$(date +%T) held-out choice before the init sweep: T=$T lr=$LR init=$INIT"
SEEDS="1 2 3" STAGE=init "$HERE/sweep_temperature.sh" "$T" "$LR"
"$PY" "$HERE/sweep_summary.py" > "$HERE/temperature_sweep.md"
read -r T LR INIT < <("$PY" "$HERE/sweep_summary.py" --chosen)
echo "$(date +%T) held-out choice: T=$T lr=$LR init=$INIT"
cat > "$HERE/suites/pm-glue-chosen-t.yaml" <<YAML
suite: pm-glue-chosen-t
description: >-
  Issue 21 - the headline pair re-run at Match-Tuning's temperature chosen on held-out SST-2 training rows
  under the grid's budget (../temperature_sweep.md: T = $T, lr $LR, dense init $INIT), beside its head
  control dense-head (the same dense layer with M = I) and vanilla; everything else equals pm-glue.
evaluator: glue
tasks: [sst2]
train:
  seeds: [1, 2, 3]
  epochs: 3
  batch_size: 16
  max_length: 128
  lr: $LR
  max_train_examples: 1000
  group_by_length: false
  method_args:
    match-tuning: {temperature: $T, dense_init: $INIT}
    dense-head: {dense_init: $INIT}
  methods: [vanilla, match-tuning, dense-head]
metadata:
  version: 1
YAML
STAGES=chosen "$HERE/run.sh"
# 3. STS-B: Table 1's Match-Tuning (T = 0.5), retrained here with its unfolded head saved beside the export
diag=$HERE/budget/checkpoints/stsb-diagnosis
for seed in 1 2 3; do
    [ -f "$diag/seed-$seed/rbm_card.json" ] && continue
    echo "--method match-tuning --temperature 0.5 --task stsb --seed $seed --epochs 3 --batch-size 16 --lr 1e-4 \
--max-length 128 --max-train-examples 1000 --no-group-by-length --data-dir $DATA --output $diag/seed-$seed --overwrite"
done | xargs -r -P "$WORKERS" -L 1 nice -n 5 "$RBM" train > "$HERE/logs/stsb-diagnosis-train.log" 2>&1
nice -n 5 "$PY" "$HERE/stsb_diagnosis.py" "$diag"/seed-{1,2,3} --data-dir "$DATA" > "$HERE/stsb_diagnosis.md"
echo "$(date +%T) issue 21 stages done"
