"""The client's token rows as secret ids: the real ids on the client, zeros of the same public shape elsewhere."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from privformers.mpc.party import CLIENT, Party
from privformers.secure.tensor import PrivateIds


def batch_ids(party: Party, rows: Sequence[Sequence[int]]) -> PrivateIds:
    """Token rows of equal length as secret ids of shape (rows, length). Only the client's are real;
    the shape (number of rows and length) is public."""
    if party.role == CLIENT:
        value = torch.tensor([list(r) for r in rows], dtype=torch.long)
    else:
        value = torch.zeros(len(rows), len(rows[0]), dtype=torch.long)
    return value.as_subclass(PrivateIds)
