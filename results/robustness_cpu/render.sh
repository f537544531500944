#!/usr/bin/env bash
# Tables (Markdown + LaTeX) and degradation plots from the stored results; never re-runs a model.
set -u
cd "$(dirname "$0")/../.."
OUT=results/robustness_cpu
PY=${PYTHON:-/work/venv/bin/python}
for suite in advglue label-noise minority mnli-negation; do
  [ -f "$OUT/$suite/results.jsonl" ] || continue
  "$PY" -m robustbench_match.cli table "$OUT/$suite" --format markdown > "$OUT/$suite/tables.md"
  "$PY" -m robustbench_match.cli table "$OUT/$suite" --format latex > "$OUT/$suite/tables.tex"
done
for suite in label-noise minority; do
  [ -f "$OUT/$suite/results.jsonl" ] && "$PY" -m robustbench_match.cli plot degradation "$OUT/$suite" --output "$OUT/$suite" --format png
done
true
