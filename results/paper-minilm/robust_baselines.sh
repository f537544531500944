#!/usr/bin/env bash
# Issue 28: vanilla vs LoRA, FreeLB, SMART (and Match-Tuning) on SST-2 at the grid's budget — clean dev,
# AdvGLUE advSST-2 and TextAttack — beside the stored vanilla / Match-Tuning records of Tables 1, 2 and
# the attacks. Same training block as pm-glue (1,000 rows, 3 epochs, batch 16, max length 128, lr 1e-4,
# 3 seeds). FreeLB and SMART take their official defaults and the grid's lr (chosen for vanilla, as for
# every other method); LoRA's lr is chosen on 500 held-out TRAINING rows (budget_check.py), never on dev.
# Resumable: every stage skips what is stored.  WORKERS=2 THREADS=1 by default.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/settings.sh"
OUT=$HERE/robust-baselines
mkdir -p "$HERE/logs" "$OUT"
LORA_LRS=${LORA_LRS:-"5e-4 1e-3 2e-3"}
SEED_LIST=${SEEDS:-1 2 3}          # SEEDS="4 5 6" adds seeds (vanilla and Match-Tuning have 1-6 stored)
SEED_CSV=${SEED_LIST// /,}
ADV_METHODS=${ADV_METHODS:-freelb,smart}
WITH_LORA=${WITH_LORA:-1}
FORCE=${FORCE:-0}                  # 1: redo stored cells (issue 35 re-ran LoRA, FreeLB and SMART with new code)
FORCE_FLAG=(); [ "$FORCE" = 1 ] && FORCE_FLAG=(--force)

if [ "$WITH_LORA" = 1 ]; then
echo "$(date +%T) LoRA lr on held-out training rows: $LORA_LRS"
for lr in $LORA_LRS; do echo "$lr"; done | xargs -P "$WORKERS" -I{} nice -n 5 "$PY" "$HERE/budget_check.py" \
    --task sst2 --method lora --lr {} --threads "$THREADS" --data-dir "$DATA" --out "$HERE/budget" \
    >>"$HERE/logs/robust-lora-lr.log" 2>&1
LORA_LR=$("$PY" - "$HERE/budget" <<'PY'
import json, sys
from pathlib import Path
rows = [json.loads(p.read_text()) for p in Path(sys.argv[1]).glob("sst2-lr*-n1000-lora.json")]
best = max(rows, key=lambda r: r["heldout_score"])
print(f"{best['lr']:g}")
PY
)
echo "$(date +%T) LoRA lr chosen on held-out rows: $LORA_LR"
fi

run() {  # NAME ARGS...
    local name=$1; shift
    echo "$(date +%T) start $name"
    nice -n 5 "$RBM" "$@" "${FORCE_FLAG[@]}" --include-path "$HERE/suites" --data-dir "$DATA" --save-predictions --format none \
        --executor local --workers "$WORKERS" --threads-per-worker "$THREADS" >"$HERE/logs/$name.log" 2>&1 \
        && echo "$(date +%T) done  $name" || echo "$(date +%T) FAILED $name (logs/$name.log)"
}
run robust-train-adv run pm-glue --tasks sst2 --methods "$ADV_METHODS" --seeds "$SEED_CSV" --output "$OUT/glue"
[ "$WITH_LORA" = 1 ] && run robust-train-lora run pm-glue --tasks sst2 --methods lora --seeds "$SEED_CSV" \
    --set "train.lr=$LORA_LR" --output "$OUT/glue"

ckpts() {
    local m s
    for m in lora freelb smart; do for s in $SEED_LIST; do
        local dir=$OUT/glue/checkpoints/pm-glue/sst2/clean/$m/seed-$s
        [ -f "$dir/rbm_card.json" ] && printf -- '--checkpoint sst2/seed-%s/%s=%s ' "$s" "$m" "$dir"
    done; done
}
run robust-advglue run pm-advglue --tasks sst2 $(ckpts) --output "$OUT/advglue"
run robust-attacks run pm-attacks --tasks sst2 $(ckpts) --output "$OUT/attacks"

# Tables beside the stored vanilla / Match-Tuning records (the same suites, so one table each)
"$RBM" table "$HERE/table1-glue" "$OUT/glue" --suite pm-glue --majority-row --ci > "$OUT/table1-sst2.md"
"$RBM" table "$HERE/table2-advglue" "$OUT/advglue" --suite pm-advglue --ci > "$OUT/table2-advsst2.md"
"$RBM" table "$HERE/attacks" "$OUT/attacks" --suite pm-attacks --ci > "$OUT/attacks.md"
echo "$(date +%T) all done"
