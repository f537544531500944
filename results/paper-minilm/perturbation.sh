#!/usr/bin/env bash
# Issue 36: the perturbation suite (every family, 3 perturbation seeds, the sentiment MFT) on all of SST-2 dev for
# the SST-2 checkpoints of this folder's methods at seeds 1-3, retrained by perturbation_train.sh at the grid's
# budget (vanilla, Match-Tuning at the held-out T = 4, dense-head, FreeLB, SMART, LoRA). Resumable.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/settings.sh"
OUT=$HERE/perturbation
[ -f "$OUT/train/robust/results.jsonl" ] || "$HERE/perturbation_train.sh"
ckpts() {
    local m s dir
    for m in vanilla match-tuning dense-head; do for s in 1 2 3; do
        dir=$OUT/train/chosen-t/checkpoints/pm-glue-chosen-t/sst2/clean/$m/seed-$s
        [ -f "$dir/rbm_card.json" ] && printf -- '--checkpoint sst2/seed-%s/%s=%s ' "$s" "$m" "$dir"
    done; done
    for m in freelb smart lora; do for s in 1 2 3; do
        dir=$OUT/train/robust/checkpoints/pm-glue/sst2/clean/$m/seed-$s
        [ -f "$dir/rbm_card.json" ] && printf -- '--checkpoint sst2/seed-%s/%s=%s ' "$s" "$m" "$dir"
    done; done
}
echo "$(date +%T) start perturbation"
nice -n 5 "$RBM" run pm-perturbation $(ckpts) --include-path "$HERE/suites" --data-dir "$DATA" --save-predictions \
    --format none --executor local --workers "$WORKERS" --threads-per-worker "$THREADS" --output "$OUT/run" \
    >"$HERE/logs/perturbation.log" 2>&1 && echo "$(date +%T) done  perturbation" || echo "$(date +%T) FAILED (logs/perturbation.log)"
"$RBM" table "$OUT/run" --perturbation-metric flip_rate > "$OUT/flip.md"
"$RBM" table "$OUT/run" --perturbation-metric drop > "$OUT/drop.md"
"$PY" "$HERE/perturbation_summary.py" "$OUT/run" > "$OUT/SUMMARY.md"
echo "$(date +%T) all done"
