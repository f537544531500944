"""Online GroupDRO (Sagawa et al., 2020): keep a distribution q over groups; each step
q_g ← q_g · exp(η · loss_g) (renormalised), then minimise Σ_g q_g · loss_g, where loss_g is the
mean loss of the batch's examples in group g (0 for groups absent from the batch). Group ids
come from the training data: ``train_examples.extra["group"]`` (e.g. MNLI label × negation), or,
with ``--dro-groups label``, the class labels themselves (class-balanced DRO for any task)."""
from __future__ import annotations

import dataclasses

import torch

from ...errors import RBMError
from .base import Method, Param


class GroupDRO(Method):
    name = "group-dro"
    summary = "online GroupDRO over the data's groups (train_examples.extra['group'])"
    overrides_reduce = True
    params = (Param("dro_step_size", 0.01, float, "step size η of the group-weight update",
                    check=lambda x: x > 0, expected="> 0"),
              Param("dro_groups", "data", str, "group ids: the data's extra['group'], or the class labels",
                    choices=("data", "label")))

    def check_task(self, task) -> None:
        if self.hparams["dro_groups"] == "label" and task.is_regression:
            raise RBMError(f"method group-dro: --dro-groups label needs a classification task; {task.name} is regression")

    def prepare_data(self, examples):
        if self.hparams["dro_groups"] == "label":
            examples = dataclasses.replace(examples, extra={**examples.extra, "group": [int(y) for y in examples.labels]})
        groups = examples.extra.get("group")
        if groups is not None and any(isinstance(g, str) for g in groups):  # a task's group_field: values -> ids
            index = {name: i for i, name in enumerate(sorted({str(g) for g in groups}))}
            groups = [index[str(g)] for g in groups]
            examples = dataclasses.replace(examples, extra={**examples.extra, "group": groups})
        if groups is None:
            raise RBMError("method group-dro needs group ids: pass train_examples with extra['group'] "
                           "(a list of ints, one per example, e.g. from `rbm data` / the mnli-negation suite), "
                           "or use --dro-groups label")
        if len(groups) != len(examples) or any(int(g) < 0 for g in groups):
            raise RBMError("method group-dro: extra['group'] must hold one non-negative int per example")
        self.n_groups = int(max(groups)) + 1
        self.q = torch.full((self.n_groups,), 1.0 / self.n_groups)
        return examples

    def reduce_loss(self, per_example, batch):
        groups = batch["group"].long()
        onehot = torch.nn.functional.one_hot(groups, self.n_groups).to(per_example.dtype)  # n × G
        counts = onehot.sum(0)
        group_loss = (onehot.T @ per_example) / counts.clamp(min=1)
        q = self.q.to(per_example.device) * torch.exp(self.hparams["dro_step_size"] * group_loss.detach())
        self.q = q / q.sum()
        return group_loss @ self.q

    def step_metrics(self) -> dict[str, float]:
        return {f"dro_q{g}": float(v) for g, v in enumerate(self.q)}
