#!/usr/bin/env bash
# mnli-negation on real MNLI dev-matched with MiniLM checkpoints trained on dev-mismatched (see negation_checkpoints.py).
set -u
cd "$(dirname "$0")/../.."
DATA=${RBM_DATA_DIR:-../shared/data}
OUT=results/robustness_cpu
PY=${PYTHON:-/work/venv/bin/python}
CK="$OUT/mnli-negation/checkpoints"
"$PY" "$OUT/negation_checkpoints.py" "$DATA" "$CK" vanilla group-dro
"$PY" -m robustbench_match.cli run "$OUT/mnli-negation.yaml" --data-dir "$DATA" --output "$OUT/mnli-negation" \
  --checkpoint "mnli/seed-1/erm=$CK/vanilla" --checkpoint "mnli/seed-1/group-dro=$CK/group-dro" --save-predictions --format none
