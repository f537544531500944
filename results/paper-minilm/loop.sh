#!/usr/bin/env bash
# Issue 37: does the training that answers a failure work, on families and attacks it did not train on?
# SST-2 at the grid's budget (1,000 seeded training rows, 3 epochs, batch 16, lr 1e-4 chosen for vanilla on held-out
# training rows, max length 128), seeds 1-3. New here: augment with EDA and with CharSwap (TextAttack's defaults:
# pct_words_to_swap 0.1, one variant per row, originals kept) and adv-train with DeepWordBug in the loop
# (TextAttack's Trainer defaults: 1 clean epoch, attack every epoch after it, every training row attacked, alpha 1).
# Reused as stored (same budget, same seeds): vanilla, Match-Tuning (held-out T = 4) and FreeLB checkpoints of
# perturbation_train.sh. Every checkpoint is then scored on clean SST-2 dev, advSST-2, DeepWordBug (100 dev rows),
# PWWS (50 dev rows) and every perturbation family. Resumable: a trained checkpoint and a stored cell are kept.
# Run it from outside the checkout with RBM pointing at a pinned copy (see perturbation.sh).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/settings.sh"
OUT=$HERE/loop
PERT=$HERE/perturbation/train
mkdir -p "$HERE/logs" "$OUT/checkpoints"
export RBM_CACHE_DIR=${RBM_CACHE_DIR:-$OUT/.augment-cache}
BUDGET=(--task sst2 --epochs 3 --batch-size 16 --max-length 128 --lr 1e-4 --max-train-examples 1000
        --no-group-by-length --data-dir "$DATA")
args_of() {  # NAME: the method flags of a new checkpoint kind
    case $1 in
        augment-eda) echo "--method augment --augment-recipe eda" ;;
        augment-charswap) echo "--method augment --augment-recipe charswap" ;;
        adv-train-dwb) echo "--method adv-train --attack-recipe deepwordbug" ;;
    esac
}
train_one() {  # NAME SEED
    local name=$1 seed=$2 dir=$OUT/checkpoints/$1/seed-$2
    [ -f "$dir/rbm_card.json" ] && return 0
    echo "$(date +%T) train $name seed $seed"
    # shellcheck disable=SC2046
    nice -n 5 "$RBM" train $(args_of "$name") --seed "$seed" "${BUDGET[@]}" --output "$dir" --overwrite \
        >"$HERE/logs/loop-train-$name-$seed.log" 2>&1 && echo "$(date +%T) done  $name seed $seed" \
        || echo "$(date +%T) FAILED train $name $seed (logs/loop-train-$name-$seed.log)"
}
for name in adv-train-dwb augment-eda augment-charswap; do
    for s in 1 2 3; do
        train_one "$name" "$s" &
        while [ "$(jobs -rp | wc -l)" -ge "$WORKERS" ]; do sleep 5; done
    done
done
wait
baselines() {  # --checkpoint flags of the stored vanilla, Match-Tuning and FreeLB seeds
    local m s
    for s in 1 2 3; do
        for m in vanilla match-tuning; do printf -- '--checkpoint sst2/seed-%s/%s=%s ' "$s" "$m" "$PERT/chosen-t/checkpoints/pm-glue-chosen-t/sst2/clean/$m/seed-$s"; done
        printf -- '--checkpoint sst2/seed-%s/freelb=%s ' "$s" "$PERT/robust/checkpoints/pm-glue/sst2/clean/freelb/seed-$s"
    done
}
answers() {  # --checkpoint flags of the checkpoints trained here
    local m s
    for s in 1 2 3; do for m in augment-eda augment-charswap adv-train-dwb; do
        [ -f "$OUT/checkpoints/$m/seed-$s/rbm_card.json" ] && printf -- '--checkpoint sst2/seed-%s/%s=%s ' "$s" "$m" "$OUT/checkpoints/$m/seed-$s"
    done; done
}
ckpts() { baselines; answers; }
run() {  # NAME SUITE OUTPUT ARGS...
    local name=$1 suite=$2 out=$3; shift 3
    echo "$(date +%T) start $name"
    nice -n 5 "$RBM" run "$suite" "$@" --tasks sst2 --include-path "$HERE/suites" --data-dir "$DATA" --save-predictions \
        --format none --executor local --workers "$WORKERS" --threads-per-worker "$THREADS" --output "$out" \
        >"$HERE/logs/loop-$name.log" 2>&1 && echo "$(date +%T) done  $name" || echo "$(date +%T) FAILED $name (logs/loop-$name.log)"
}
run clean glue-dev "$OUT/clean" $(ckpts)
run advglue pm-advglue "$OUT/advglue" $(ckpts)
# one run folder per group (each results.jsonl stays under 2 MB)
run perturbation-baselines pm-perturbation "$OUT/perturbation-baselines" $(baselines)
run perturbation-answers pm-perturbation "$OUT/perturbation-answers" $(answers)
run deepwordbug pm-attacks "$OUT/attacks-deepwordbug" --recipe deepwordbug --num-examples 100 $(ckpts)
run pwws pm-attacks "$OUT/attacks-pwws" --recipe pwws --num-examples 50 $(ckpts)
for card in "$OUT"/checkpoints/*/seed-*/rbm_card.json; do  # the cards travel with the results (weights do not)
    dest=$OUT/cards/$(basename "$(dirname "$(dirname "$card")")")-$(basename "$(dirname "$card")").json
    mkdir -p "$OUT/cards" && cp "$card" "$dest"
done
"$PY" "$HERE/loop_summary.py" "$OUT" > "$OUT/SUMMARY.md" || echo "summary FAILED"
echo "$(date +%T) all done"
