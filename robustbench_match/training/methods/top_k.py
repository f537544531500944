"""Top-K tuning: only the top K encoder layers and everything above them (pooler, head) train;
embeddings and lower layers are frozen (requires_grad off, not given to the optimizer)."""
from __future__ import annotations

from ...errors import RBMError
from ..modeling import encoder_layers, layer_index
from .base import Method, Param


class TopK(Method):
    name = "top-k"
    summary = "fine-tune only the top K encoder layers + pooler/head"
    params = (Param("top_k", 3, int, "number K of top encoder layers trained", check=lambda x: x >= 0, expected=">= 0"),)

    def setup(self, ctx) -> None:
        prefix, layers = encoder_layers(ctx.model)
        k = self.hparams["top_k"]
        if k > len(layers):
            raise RBMError(f"method top-k: --top-k {k} exceeds the model's {len(layers)} encoder layers")
        first_trained = len(layers) - k
        for name, param in ctx.model.named_parameters():
            idx = layer_index(name, prefix)
            below = idx is not None and idx < first_trained
            if below or (idx is None and name in ctx.pretrained_names and _before_encoder(name, prefix)):
                param.requires_grad_(False)


def _before_encoder(name: str, prefix: str) -> bool:
    """Embedding parameters: they sit beside the encoder (``bert.embeddings.*``)."""
    return ".embeddings." in f".{name}" or name.startswith("embeddings.")
