# Shared by run.sh and robust_baselines.sh (sourced, with HERE set to this folder): where the data and the
# rbm command are, and how many one-thread workers run at a time.
ROOT=$(cd "$HERE/../.." && pwd)
DATA=${RBM_DATA_DIR:-$ROOT/../shared/data}
WORKERS=${WORKERS:-2}
THREADS=${THREADS:-1}
RBM=${RBM:-$ROOT/.venv/bin/rbm}
[ -x "$RBM" ] || RBM=$(command -v rbm)
PY=$(dirname "$RBM")/python   # the interpreter rbm runs in (summary.py imports the package)
export HF_HUB_OFFLINE=1 RBM_OFFLINE=1 OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
