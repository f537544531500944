#!/usr/bin/env bash
# Issue 21: Match-Tuning's temperature T and lr, its dense-layer init and the dense-head control, chosen
# on 500 HELD-OUT SST-2 TRAINING rows (budget_check.py), under exactly the grid's budget (the same
# 1,000-row pool, 3 epochs, batch 16, max length 128, linear schedule with 10 % warm-up), 3 seeds each.
# Resumable (a finished check is skipped); WORKERS one-thread processes under nice. Summarise with
#   python results/paper-minilm/sweep_summary.py > results/paper-minilm/temperature_sweep.md
#   STAGE=init results/paper-minilm/sweep_temperature.sh T   # dense-init sweep at the chosen T
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/settings.sh"
[ -n "${RBM_CODE:-}" ] && export PYTHONPATH=$RBM_CODE
STAGE=${STAGE:-grid}
SEEDS=${SEEDS:-"1 2 3"}
LRS=${LRS:-"1e-4 5e-5"}   # vanilla's candidates (budget.md)
TEMPS=${TEMPS:-"0.5 1 2 3 4 6"}
check() { echo "--task sst2 --n-train 1000 --data-dir $DATA --out $HERE/budget $*"; }
jobs_grid() {
    local lr t seed
    for lr in $LRS; do
        for seed in $SEEDS; do
            for t in $TEMPS; do check --lr $lr --seed $seed --method match-tuning --method-arg temperature=$t; done
            check --lr $lr --seed $seed
            check --lr $lr --seed $seed --method dense-head
        done
    done
}
jobs_init() {  # T LR
    local seed
    for seed in $SEEDS; do
        check --lr $2 --seed $seed --method match-tuning --method-arg temperature=$1 --method-arg dense_init=torch-default
        check --lr $2 --seed $seed --method dense-head --method-arg dense_init=torch-default
    done
}
"jobs_$STAGE" "$@" | xargs -P "$WORKERS" -L 1 nice -n 5 "$PY" "$HERE/budget_check.py" --threads "$THREADS"
