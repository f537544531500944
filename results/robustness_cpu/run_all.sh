#!/usr/bin/env bash
# Real runs of the robustness suites on CPU with the packaged MiniLM-L6 (small budget; see *.yaml here).
# Resumable: rerun this script after a kill and finished cells are skipped.
# On 2 shared CPU cores a 20-step training took ~3 min, so label-noise and minority ran on RTE only
# and minority at 30 % only (TASKS=cola,mrpc,rte and ratios in minority.yaml for the paper's grid).
set -u
cd "$(dirname "$0")/../.."
DATA=${RBM_DATA_DIR:-../shared/data}
OUT=results/robustness_cpu
TASKS=${TASKS:-rte}
PY=${PYTHON:-/work/venv/bin/python}
"$PY" -m robustbench_match.cli run "$OUT/advglue.yaml" --data-dir "$DATA" --output "$OUT/advglue" --save-predictions --format none
"$PY" -m robustbench_match.cli run "$OUT/label-noise.yaml" --data-dir "$DATA" --output "$OUT/label-noise" --tasks "$TASKS" --save-predictions --format none
"$PY" -m robustbench_match.cli run "$OUT/minority.yaml" --data-dir "$DATA" --output "$OUT/minority" --tasks "$TASKS" --save-predictions --format none
