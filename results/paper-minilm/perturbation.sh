#!/usr/bin/env bash
# Issue 36: the perturbation suite (every family, 3 perturbation seeds, the sentiment MFT) on all of SST-2 dev for
# the SST-2 checkpoints of this folder's methods at seeds 1-3, retrained by perturbation_train.sh at the grid's
# budget (vanilla, Match-Tuning at the held-out T = 4, dense-head, FreeLB, SMART, LoRA). Resumable. Run it from
# outside the checkout with RBM/PYTHONPATH pointing at a pinned copy to keep the code fixed (`--executor local`
# starts `python -m robustbench_match.cli`, which imports from the current folder first).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/settings.sh"
OUT=$HERE/perturbation
[ -f "$OUT/train/robust/results.jsonl" ] || "$HERE/perturbation_train.sh"
ckpts() {  # FOLDER SUITE METHODS...: --checkpoint flags for the trained SST-2 checkpoints of these methods
    local folder=$1 suite=$2 m s dir; shift 2
    for m in "$@"; do for s in 1 2 3; do
        dir=$OUT/train/$folder/checkpoints/$suite/sst2/clean/$m/seed-$s
        [ -f "$dir/rbm_card.json" ] && printf -- '--checkpoint sst2/seed-%s/%s=%s ' "$s" "$m" "$dir"
    done; done
}
run() {  # NAME OUTPUT CHECKPOINT-FLAGS...: one run folder per training folder (each results.jsonl stays small)
    local name=$1 out=$2; shift 2
    echo "$(date +%T) start $name"
    nice -n 5 "$RBM" run pm-perturbation "$@" --include-path "$HERE/suites" --data-dir "$DATA" --save-predictions \
        --format none --executor local --workers "$WORKERS" --threads-per-worker "$THREADS" --output "$out" \
        >"$HERE/logs/$name.log" 2>&1 && echo "$(date +%T) done  $name" || echo "$(date +%T) FAILED (logs/$name.log)"
}
run perturbation "$OUT/run" $(ckpts chosen-t pm-glue-chosen-t vanilla match-tuning dense-head)
run perturbation-robust "$OUT/run-robust" $(ckpts robust pm-glue freelb smart lora)
"$RBM" table "$OUT/run" "$OUT/run-robust" --perturbation-metric flip_rate > "$OUT/flip.md"
"$RBM" table "$OUT/run" "$OUT/run-robust" --perturbation-metric drop > "$OUT/drop.md"
"$PY" "$HERE/perturbation_summary.py" "$OUT/run" "$OUT/run-robust" > "$OUT/SUMMARY.md"
echo "$(date +%T) all done"
