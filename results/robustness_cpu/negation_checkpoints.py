"""Checkpoints for the mnli-negation real run. There is no MNLI *train* split offline, so — unlike the
suite, which never trains on dev data — these are trained on a seeded 320-row sample of MNLI
dev-MISmatched (with negation groups for GroupDRO) and the suite scores them on dev-MATCHED only.
Numbers from them are a pipeline check on real data, not the paper's protocol."""
import sys
from pathlib import Path

from robustbench_match.conditions.base import training_pool
from robustbench_match.conditions.groups import with_groups
from robustbench_match.data import load_split
from robustbench_match.training import TrainConfig, train

data, out = sys.argv[1], Path(sys.argv[2])
pool = with_groups(training_pool(load_split("mnli", "validation_mismatched", data), 320, seed=0))
pool.split = "train"
for method in sys.argv[3:]:
    target = out / method.replace("+", "_")
    if (target / "rbm_card.json").is_file():
        continue
    train(TrainConfig(method=method, task="mnli", seed=1, output=str(target), max_steps=20, batch_size=16,
                      lr=1e-4, max_length=64), train_examples=pool)
    print(target)
