"""MERGE's Merge Module under MPC: the attention weights P are the server's (input-independent),
so attention is a product of a server-known matrix with the secret values V.

P depends only on the server's M and on public positions and masks, so the server computes it
in the offline pass and sends F = P - B (B from its stream with the dealer); the dealer gives
the client Z = B A - C for the client's mask A of V and the server's C. Online, the client sends
V_c - A (one flight, 8 bytes per value entry) and
    client: F A + Z        server: P (V_c - A + V_s) + C
sum to P V, then one truncation. No softmax, no Q or K, no product of two secrets.
"""

from __future__ import annotations

import torch

from privformers.approx.merge.module import merge_attention, merge_weights
from privformers.mpc.material import take
from privformers.mpc.party import CLIENT, DEALER, SERVER, meta_like
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.ringmath import ring_matmul
from privformers.mpc.shares import AShare
from privformers.secure.registry import UnsupportedOpError, register_op
from privformers.secure.tensor import SecretTensor, ServerParam
from privformers.secure.tracking import current_module


def server_matrix_product(p_plain: torch.Tensor | None, v: AShare, p_shape: tuple[int, ...]) -> AShare:
    """Shares of P @ V for a matrix P only the server knows (p_plain there, None elsewhere)."""
    party = v.party
    out_shape = (*p_shape[:-1], v.shape[-1])

    def produce() -> tuple:
        if party.role == DEALER:
            a = party.prg[CLIENT].ring(v.shape)
            b = party.prg[SERVER].ring(p_shape)
            c = party.prg[SERVER].ring(out_shape)
            party.send(CLIENT, ring_matmul(b, a) - c)
            return (meta_like(a),)
        if party.role == CLIENT:
            a = party.prg[DEALER].ring(v.shape)
            return (a, party.recv_tensor(DEALER), party.recv_tensor(SERVER))
        b = party.prg[DEALER].ring(p_shape)
        c = party.prg[DEALER].ring(out_shape)
        p_ring = party.fp.encode(p_plain.expand(p_shape))
        party.send(CLIENT, p_ring - b)
        return (p_ring, c)

    item = take(party, produce)
    if party.symbolic:
        return trunc(AShare(party, torch.empty(out_shape, dtype=torch.int64, device="meta")))
    party.meter.add_round()
    if party.role == CLIENT:
        a, z, f = item
        party.send(SERVER, v.data - a)
        return trunc(AShare(party, ring_matmul(f, a) + z))
    p_ring, c = item
    d = party.recv_tensor(CLIENT)
    return trunc(AShare(party, ring_matmul(p_ring, d + v.data) + c))


@register_op(merge_attention)
def secure_merge_attention(value: SecretTensor, m: ServerParam, q_start: int, q_len: int,
                           keep: torch.Tensor | None, variant: str) -> tuple[SecretTensor, None]:
    """(P @ value, None): the weights stay with the server."""
    if not (isinstance(value, SecretTensor) and isinstance(m, ServerParam)):
        raise UnsupportedOpError(f"merge_attention needs secret values and a server-held M "
                                 f"(in module {current_module()})")
    party = value.party
    heads = m.shape[0]
    kv_len = value.shape[-2]
    p_shape = (*value.shape[:-3], heads, q_len, kv_len)
    plain = None
    if party.role == SERVER:
        plain = merge_weights(m.plain, q_start, q_len, kv_len, keep, variant)
    elif q_start + q_len > m.shape[1] or kv_len > m.shape[1]:
        raise ValueError(f"sequence exceeds the merge module's max length {m.shape[1]}")
    with party.meter.scope("linear"):
        return SecretTensor(server_matrix_product(plain, value.share, p_shape)), None
