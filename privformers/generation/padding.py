"""Padded batches: prompts of different lengths in one secure pass, each prompt's length kept secret.

The client left-pads every prompt to the batch's public width P (the longest prompt, or more), so
all rows end at the same column and each step's new token sits in the last column for every row.
What the server and the dealer learn: the number of rows and P, nothing of each prompt's length.
The client hides the padding with two secrets of its own:

- a 0/1 key mask (``secure/key_mask.py``): attention never looks at a padded column (1 round per
  attention layer and step, 16 bytes per score);
- for models with learned absolute positions (GPT-2), the position ids: row i's real tokens start
  at position 0 whatever its padding, so the position embedding becomes a secret lookup like the
  token embedding (a masked one-hot over the model's positions: 4 bytes per position per row and
  step, and its lift round). Models whose attention depends only on relative positions would keep
  public positions (a common shift changes nothing) but none is enabled yet.

Each row's tokens then equal that prompt's own greedy tokens, as if it had run alone.
Not for encoder-decoders (their encoder padding would need the mask in two kinds of attention) nor
for students whose attention is not the exact softmax (2Quad, 2ReLU, cubic, the Merge Module) or that
resend embeddings: those raise ``PaddingUnsupported`` naming the reason, before any party connects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from privformers.generation.ids import batch_ids
from privformers.mpc.party import CLIENT, Party
from privformers.mpc.protocols.inputs import share_input
from privformers.mpc.shares import AShare
from privformers.secure.tensor import PrivateIds

PAD_ID = 0   # what fills the padded columns (never attended to)
SECRET_POSITIONS = ("gpt2",)   # model types with learned absolute positions, given secretly by the client


class PaddingUnsupported(ValueError):
    """This model cannot run a padded batch (its reason says why)."""


def check_paddable(config: object, recipe: object | None) -> None:
    """Raise PaddingUnsupported unless prompts of different lengths can share this model's passes."""
    model_type = getattr(config, "model_type", None)
    if getattr(config, "is_encoder_decoder", False):
        raise PaddingUnsupported(f"padded batches are for decoder-only models, not the encoder-decoder {model_type!r}; "
                                 "give prompts of equal length")
    if model_type not in SECRET_POSITIONS:
        raise PaddingUnsupported(f"padded batches are not supported for model type {model_type!r} yet; give prompts "
                                 "of equal length")
    if recipe is not None and (getattr(recipe, "softmax", None) or getattr(recipe, "merge", None)
                               or getattr(recipe, "resend", False)):
        name = getattr(recipe, "name", recipe)
        raise PaddingUnsupported(f"padded batches need the exact softmax attention; the student's recipe {name!r} "
                                 "replaces it (or resends embeddings): give prompts of equal length")


@dataclass
class PaddedBatch:
    """Left-padded prompts of public width; lengths are the client's own (None on the other parties)."""

    rows: list[list[int]]
    lengths: list[int] | None
    width: int

    @classmethod
    def of(cls, party: Party, prompts: Sequence[Sequence[int]], width: int) -> PaddedBatch:
        """The client pads its prompts to width; the others hold zeros of that public shape."""
        if party.role != CLIENT:
            return cls([[PAD_ID] * width for _ in prompts], None, width)
        lengths = [len(p) for p in prompts]
        if max(lengths) > width or min(lengths) < 1:
            raise ValueError(f"prompt lengths must lie in [1, {width}] for a batch padded to {width}")
        return cls([[PAD_ID] * (width - len(p)) + [int(t) for t in p] for p in prompts], lengths, width)

    def _starts(self) -> list[int]:
        return [self.width - n for n in self.lengths] if self.lengths is not None else [0] * len(self.rows)

    def positions(self, party: Party, first: int, count: int) -> PrivateIds:
        """Secret position ids of columns first .. first+count-1: column c of row i is at position
        c - (width - length_i), and 0 in the padding."""
        rows = [[max(0, c - s) for c in range(first, first + count)] for s in self._starts()]
        return batch_ids(party, rows)

    def keep(self, party: Party, columns: int) -> AShare:
        """Secret 0/1 shares (rows, columns): 1 where a column holds a real token (prompt or generated)."""
        shape = (len(self.rows), columns)
        value = None
        if party.role == CLIENT and self.lengths is not None:
            cols = torch.arange(columns).unsqueeze(0)
            value = (cols >= torch.tensor(self._starts()).unsqueeze(1)).to(torch.int64)
        return share_input(party, CLIENT, value, shape, encode=False)
