"""Gumbel noise drawn by the dealer and secret-shared: the randomness of sampling, unknown to both computing parties.

Gumbel-max: if G_i are independent standard Gumbel variables, argmax_i (l_i / T + G_i) = argmax_i (l_i + T G_i)
is distributed as softmax(l / T). A party that chose or saw G would learn more about the logits from the
result than one sample reveals (e.g. a client adding its own noise to its share), so the dealer draws G with
its own cryptographic PRG (AES-CTR seeded by os.urandom, never torch's generator) and shares T G: the client's
share comes from the client-dealer stream, the server receives the rest. The dealer sees no input, weight or
output, and does not collude.

Encoding: U = (u + 1/2) / 2^52 for u uniform in [0, 2^52) (exact in float64, never 0 or 1), G = -log(-log U),
so G lies in [-3.61, 36.7]. Compared with an exact uniform, each G_i's distribution moves by at most 2^-52
(total variation), so sampling probabilities over K candidates move by at most K 2^-52. T G is then rounded
to the fixed-point grid (error 2^-(f+1)), the same order as the secret logits' own rounding.
Cost: nothing online; offline 8 bytes per element to the server.
"""

from __future__ import annotations

import torch

from privformers.mpc.material import take
from privformers.mpc.party import CLIENT, DEALER, SERVER, Party, placeholder
from privformers.mpc.ring import logical_rshift
from privformers.mpc.shares import AShare

UNIFORM_BITS = 52
GUMBEL_MIN, GUMBEL_MAX = -3.61, 36.8  # bounds of -log(-log U) over U's grid, rounded outwards


def gumbel(party: Party, shape: tuple[int, ...], scale: float = 1.0) -> AShare:
    """Shares of scale * G for G of the given shape, i.i.d. standard Gumbel, drawn by the dealer."""
    shape = tuple(shape)

    def produce() -> tuple:
        if party.role == DEALER:
            u = logical_rshift(party.local_prg.ring(shape), 64 - UNIFORM_BITS).to(torch.float64)
            g = -torch.log(-torch.log((u + 0.5) / float(1 << UNIFORM_BITS)))
            value = party.fp.encode(scale * g)
            mine = party.prg[CLIENT].ring(shape)
            party.send(SERVER, value - mine)
            return (placeholder(shape),)
        if party.role == CLIENT:
            return (party.prg[DEALER].ring(shape),)
        return (party.recv_tensor(DEALER).reshape(shape),)

    (share,) = take(party, produce)
    return AShare(party, share)
