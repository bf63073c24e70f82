"""Per-layer rules; importing this package registers all of them."""

from privformers.dp.rules import (
    conv1d,
    conv2d,
    embedding,
    layer_norm,
    learned_positions,
    linear,
    rms_norm,
    vit_embeddings,
)

__all__ = ["conv1d", "conv2d", "embedding", "layer_norm", "learned_positions", "linear", "rms_norm",
           "vit_embeddings"]
