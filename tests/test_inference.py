"""Inference is batch-invariant: a prediction never depends on its batch-mates."""
from __future__ import annotations

import numpy as np

from robustbench_match.checkpoints import HFCheckpoint
from robustbench_match.data import load_split
from robustbench_match.inference import length_sorted_batches


def test_length_sorted_batches_cover_every_position_once():
    lengths = [5, 1, 9, 3, 9, 2, 7]
    batches = length_sorted_batches(lengths, 3)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(7))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)


def test_batch_1_and_64_on_a_shuffled_set_agree(sst2_checkpoint, data_dir):
    dev = load_split("mrpc", "validation", data_dir)  # pairs of very different lengths
    order = np.random.default_rng(0).permutation(len(dev))[:160]
    shuffled = dev.subset(order)
    ckpt = HFCheckpoint("c", sst2_checkpoint, device="cpu", precision="fp32", max_length=128)
    ckpt.batch_size = 1
    one = ckpt.logits(shuffled, progress=False)
    ckpt.batch_size = 64
    many = ckpt.logits(shuffled, progress=False)
    reversed_many = ckpt.logits(shuffled.subset(np.arange(len(shuffled))[::-1]), progress=False)[::-1]
    assert (one.argmax(1) == many.argmax(1)).all()
    assert (many.argmax(1) == reversed_many.argmax(1)).all()
    np.testing.assert_allclose(one, many, atol=1e-5)
    np.testing.assert_allclose(many, reversed_many, atol=1e-5)
