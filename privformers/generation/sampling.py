"""Choosing the next token from secret logits: secure argmax, secure sampling (temperature, top-k, top-p),
or (opt-in) logits revealed to the client."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import torch

from privformers.models.plain import SUPPRESSED_LOGIT
from privformers.mpc.functions.nucleus import top_p_keep
from privformers.mpc.party import CLIENT
from privformers.mpc.protocols.gumbel import GUMBEL_MAX, gumbel
from privformers.mpc.protocols.inputs import reveal_to
from privformers.mpc.protocols.open import open_to
from privformers.mpc.protocols.order import distinct_keys, index_bits, top
from privformers.mpc.protocols.select import argmax, argmax_index
from privformers.mpc.protocols.shuffle import shuffle
from privformers.mpc.shares import AShare


def suppressed(logits: AShare, rows: Sequence[Collection[int]] | None) -> AShare:
    """Secret logits (n, vocab) with some tokens of each row pushed out of reach: the client (who alone
    gives ``rows``, one collection of token ids per row) subtracts ``SUPPRESSED_LOGIT`` from its own share
    at those ids. What Hugging Face's ``suppress_tokens`` does, per row, and secret: the other parties'
    shares and messages are unchanged, so they learn neither which tokens nor whether any.
    Cost: none (a local addition on the client)."""
    if rows is None or logits.party.role != CLIENT or logits.party.symbolic:
        return logits
    if len(rows) != logits.shape[0]:
        raise ValueError(f"{len(rows)} rows of suppressed tokens for {logits.shape[0]} rows of logits")
    data = logits.data.clone()
    penalty = int(logits.party.fp.encode(torch.tensor(SUPPRESSED_LOGIT)))
    vocab = logits.shape[-1]
    for i, ids in enumerate(rows):
        index = sorted({int(t) for t in ids})
        if any(not 0 <= t < vocab for t in index):
            raise ValueError(f"suppressed token ids must lie in [0, {vocab})")
        if index:
            data[i, index] -= penalty
    return AShare(logits.party, data)


def greedy_tokens(logits: AShare, bits: int = 48) -> list[int] | None:
    """Per row of secret logits (n, vocab), the index of its maximum, revealed to the client only
    (None elsewhere): one batched argmax and one opening for all rows.

    The one-hot from ``argmax`` becomes an index share locally (sum of one-hot times 0..n-1), so
    opening it costs 8 bytes per row; the server learns nothing."""
    p = logits.party
    onehot = argmax(logits, dim=-1, bits=bits)
    positions = torch.arange(onehot.shape[-1], device=onehot.data.device)
    opened = open_to(AShare(p, (onehot.data * positions).sum(-1)), CLIENT)
    if opened is None or p.symbolic:
        return None
    return [int(t) for t in opened]


def revealed_tokens(logits: AShare) -> list[int] | None:
    """Reveal the rows of logits (n, vocab) to the client, who takes each row's argmax (None elsewhere).

    Leaks to the client the model's full next-token logits (hence distribution) at every step,
    far more than the chosen tokens: it helps a client distil or fingerprint the server's model."""
    plain = reveal_to(logits, CLIENT)
    return None if plain is None else plain.argmax(-1).tolist()


@dataclass(frozen=True)
class Sampling:
    """Hugging Face's ``do_sample=True`` settings: logits / temperature, then the top_k largest (None: all),
    then the smallest set of most probable tokens whose mass (softmax over what top-k kept) is >= top_p
    (None or 1: all). ``do_sample=False`` is ``greedy_tokens``."""

    temperature: float = 1.0          # > 0
    top_k: int | None = None          # >= 1, or None
    top_p: float | None = None        # in (0, 1], or None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature must be a positive number, got {self.temperature}")
        if self.top_k is not None and (isinstance(self.top_k, bool) or not isinstance(self.top_k, int)
                                       or self.top_k < 1):
            raise ValueError(f"top_k must be an integer >= 1 or None, got {self.top_k!r}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1] or None, got {self.top_p}")


def sampled_tokens(logits: AShare, sampling: Sampling, bits: int = 48) -> list[int] | None:
    """Per row of secret logits (n, vocab): one token sampled from Hugging Face's distribution for ``sampling``,
    revealed to the client only (None on server/dealer). All rows in one pass; rounds do not grow with n.

    Protocol.
    1. Candidates. Without top-k and top-p: every token, in vocabulary order. Otherwise the rows are
       shuffled (``protocols.shuffle``: a permutation neither computing party knows, 2 rounds; the dealer
       shares each shuffled position's token id) and comparisons between shuffled elements are opened
       (``protocols.order``) on keys l 2^B + (2^B - 1 - id), B = ceil(log2 V), which are distinct: the k best
       of a row, sorted, highest first (``order.top``; top-p alone sorts the whole row). Temperature does not
       change that order, so it is left out here.
    2. top-p: on the candidates in that public order, secret keep bits from exp((l_j - l_1) / T) and prefix
       sums (``functions.nucleus``); a dropped candidate's score is pushed 2^(bits-1) down.
    3. Gumbel-max: score_j = l_j + T G_j with G standard Gumbel drawn and shared by the dealer
       (``protocols.gumbel``); argmax_j score_j = argmax_j (l_j / T + G_j) is distributed as softmax(l / T)
       over the kept tokens. A secret tournament carries each candidate's (secret) token id
       (``select.argmax_index``), which is opened to the client alone.

    What each party learns. The client: the sampled tokens. Besides them its view (masked openings, the
    shuffle's messages, the opened comparisons, which are a function of a uniformly random permutation of
    ranks) is simulated from public sizes alone; nothing links a shuffled position to a token. The server:
    nothing. The dealer (offline only): shapes and settings, the permutations and the noise, never a share
    of the logits. The settings (T, k, p) and the shapes are public. The client's result is one sample: it
    never sees the noise (that would reveal more about the logits than one sample does).

    Guarantees. The candidates are exactly the top k by secret value; where several tokens tie with the k-th,
    the k with the lowest token ids are kept (Hugging Face keeps them all). top-p's kept set is exact except where a
    prefix mass is within about 1e-4 of top_p (``functions.nucleus``). Probabilities are softmax(l / T)
    to the fixed-point resolution of l + T G (2^-f logit units; two scores equal to the last unit, which
    happens with probability about 2^-(f+2) per pair, go to the one the tournament meets first).
    Domain: logits and T * 36.8 within (-2^(bits-3), 2^(bits-3)) ring units (at f = 16 and bits = 48:
    |logit| < 2^29); with top-k or top-p, bits + ceil(log2 V) <= 64 (GPT-2 at 48 bits: 64).

    Cost (V tokens, n rows; comparisons of logits at ``bits`` bits, of keys at bits + B: 8 bytes each per
    party above 32 bits, 4 below).
    Temperature only: greedy's tournament (V - 1 comparisons and products, 2 ceil(log2 V) rounds) + 1 opening.
    With top-k: the shuffle (2 rounds, 8 V bytes per party), ``order.top_cost(V, k)`` opened comparisons
    per row (2 rounds per stage, 1 bit each), then top-p on the k candidates (15 rounds) and the tournament
    (2 ceil(log2 k) rounds), + 1. Rounds do not depend on n.
    GPT-2's V = 50,257, T = 0.8, k = 50, p = 0.9, 48 bits, one row: 72 rounds and 1.03 MB
    per party (greedy: 34 rounds, 1.61 MB), the dealer's material 405 MB (greedy: 182 MB); measured by
    ``scripts/bench_sampling.py``. top-p without top-k sorts each row (``order.merge_sort``): 198 rounds
    and 2 MB per party for V = 4,096; about V log2(V)^2 / 4 comparisons, so not for a 50,257-token row
    (4.5 million comparisons, gigabytes of material): combine top-p with top-k, as Hugging Face's
    default top_k = 50 does.
    """
    p = logits.party
    if logits.dim() != 2:
        raise ValueError(f"sampled_tokens takes (rows, vocab) logits, got shape {tuple(logits.shape)}")
    if not 8 <= bits <= 63:
        raise ValueError(f"bits must be in [8, 63], got {bits}")
    rows, vocab = logits.shape
    t = sampling.temperature
    if t * GUMBEL_MAX * p.fp.scale >= 2.0 ** (bits - 3):
        raise ValueError(f"temperature {t} is too large for {bits}-bit comparisons")
    top_k = sampling.top_k if sampling.top_k is not None and sampling.top_k < vocab else None
    top_p = sampling.top_p if sampling.top_p is not None and sampling.top_p < 1 else None
    if top_k is None and top_p is None:
        values = logits
        index = AShare(p, torch.zeros_like(logits.data)).add_public(torch.arange(vocab).expand(rows, vocab))
    else:
        if bits + index_bits(vocab) > 64:
            raise ValueError(f"top-k and top-p compare {bits}-bit logits with {index_bits(vocab)} bits of token id "
                             "appended: lower bits so that the sum is at most 64")
        shuffled, ids = shuffle(logits)
        keys = distinct_keys(shuffled, ids)   # ties go to the lower token id: opened comparisons stay uniform
        order = top(keys, top_k if top_k is not None else vocab, bits + index_bits(vocab))
        values = AShare(p, shuffled.data.gather(1, order))
        index = AShare(p, ids.data.gather(1, order))
    scores = values + gumbel(p, tuple(values.shape), t)
    width = bits
    if top_p is not None:
        keep = top_p_keep(values, t, top_p, bits)
        scores = scores + keep.lshift(bits - 1).add_public(-(1 << (bits - 1)))
        width = bits + 1
    token = argmax_index(scores, index, bits=width)
    opened = open_to(token, CLIENT)
    if opened is None or p.symbolic:
        return None
    return [int(t) for t in opened]


LARGEST_SORTED_VOCAB = 4096   # top-p without top-k sorts the whole row: beyond this, gigabytes of material


def check_sampling(sampling: Sampling, vocab: int, bits: int = 48) -> None:
    """ValueError, before any party starts, for a sampling setting this vocabulary cannot run: top-p
    without top-k merge-sorts the whole row (at GPT-2's 50,257 tokens: 4.46 million comparisons, gigabytes
    of the dealer's material), and the comparison keys need bits + ceil(log2 vocab) <= 64."""
    ranked = sampling.top_k is not None or sampling.top_p is not None
    if ranked and bits + max(1, (vocab - 1).bit_length()) > 64:
        raise ValueError(f"sampling with top-k or top-p over {vocab} tokens needs bits + {(vocab - 1).bit_length()} "
                         f"<= 64; use bits <= {64 - (vocab - 1).bit_length()}")
    if sampling.top_p is not None and sampling.top_k is None and vocab > LARGEST_SORTED_VOCAB:
        raise ValueError(f"top_p without top_k sorts all {vocab} tokens of each step under MPC, which costs "
                         f"gigabytes of correlated material; set top_k too (transformers' default is 50)")
