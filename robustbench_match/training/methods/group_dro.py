"""Online GroupDRO (Sagawa et al., 2020): keep a distribution q over groups; each step
q_g ← q_g · exp(η · loss_g) (renormalised), then minimise Σ_g q_g · loss_g, where loss_g is the
mean loss of the batch's examples in group g (0 for groups absent from the batch). Group ids
come from the training data: ``train_examples.extra["group"]`` (e.g. MNLI label × negation)."""
from __future__ import annotations

import torch

from ...errors import RBMError
from .base import Method, Param


class GroupDRO(Method):
    name = "group-dro"
    summary = "online GroupDRO over the data's groups (train_examples.extra['group'])"
    overrides_reduce = True
    params = (Param("dro_step_size", 0.01, float, "step size η of the group-weight update",
                    check=lambda x: x > 0, expected="> 0"),)

    def check_data(self, examples) -> None:
        groups = examples.extra.get("group")
        if groups is None:
            raise RBMError("method group-dro needs group ids: pass train_examples with extra['group'] "
                           "(a list of ints, one per example), e.g. from the group-shift suite")
        if len(groups) != len(examples) or any(int(g) < 0 for g in groups):
            raise RBMError("method group-dro: extra['group'] must hold one non-negative int per example")
        self.n_groups = int(max(groups)) + 1
        self.q = torch.full((self.n_groups,), 1.0 / self.n_groups)

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
