"""MERGE's Merge Module under MPC: the attention weights P are the server's (input-independent),
so attention is a product of a server-known matrix with the secret values V.

P depends only on the server's M and on public positions and masks. The dealer gives the client
Z = B A - C for the client's mask A of V and the server's B and C (from the server's stream with
the dealer). Online, in one round, the client sends V_c - A and the server sends F = P - B
(both flights at once; F is P under a one-time pad, and it travels online so that the offline
pass talks only to the dealer and the material can be streamed), and
    client: F A + Z        server: P (V_c - A + V_s) + C
sum to P V, then one truncation. No softmax, no Q or K, no product of two secrets. With a KV
cache, a value row keeps its mask A across decode steps (client and dealer keep A, the server
keeps V - A), so a step sends only its new rows; each step's B and C are fresh, so the client
sees a fresh one-time pad of P every time and the server each masked row once.
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


def _cat_rows(old: torch.Tensor | None, new: torch.Tensor) -> torch.Tensor:
    return new if old is None else torch.cat([old, new], -2)


def server_matrix_product(p_plain: torch.Tensor | None, v: AShare, p_shape: tuple[int, ...],
                          memo: dict | None = None, pending: int = 0) -> AShare:
    """Shares of P @ V for a matrix P only the server knows (p_plain there, None elsewhere).

    V may carry ``pending`` bits above the working scale (a held KV cache keeps fresh rows untruncated):
    the product's one truncation takes them too, so cached rows are never re-truncated (which would
    give them new shares and break the memo below).

    With a memo (kept with a KV cache), rows of V masked in earlier calls keep their masks: only
    the new rows are masked and sent, and each party checks that its share of the old rows is
    unchanged (the cache appends, it never rewrites)."""
    party = v.party
    k = party.fp.frac_bits + pending
    out_shape = (*p_shape[:-1], v.shape[-1])
    memo = {} if memo is None else memo
    done = memo.get("rows", 0)
    if done > v.shape[-2]:
        raise RuntimeError(f"merge attention: {done} values were masked before but only {v.shape[-2]} are given")
    new = v.data[..., done:, :]

    def produce() -> tuple:
        if party.role == DEALER:
            a = memo["A"] = _cat_rows(memo.get("A"), party.prg[CLIENT].ring(new.shape))
            b = party.prg[SERVER].ring(p_shape)
            c = party.prg[SERVER].ring(out_shape)
            party.send(CLIENT, ring_matmul(b, a) - c)
            return ()
        if party.role == CLIENT:
            return (party.prg[DEALER].ring(new.shape), party.recv_tensor(DEALER))
        b = party.prg[DEALER].ring(p_shape)
        c = party.prg[DEALER].ring(out_shape)
        p_ring = party.fp.encode(p_plain.expand(p_shape))
        return (p_ring, c, p_ring - b)

    item = take(party, produce)
    memo["rows"] = v.shape[-2]
    if party.symbolic:
        return trunc(AShare(party, meta_like(torch.empty(out_shape, dtype=torch.int64, device="meta"))), k)
    if done and not torch.equal(memo["share"], v.data[..., :done, :]):
        raise RuntimeError("merge attention: cached values changed since they were masked")
    memo["share"] = v.data
    party.meter.add_round()
    if party.role == CLIENT:
        a_new, z = item
        a = memo["A"] = _cat_rows(memo.get("A"), a_new)
        party.send(SERVER, new - a_new)
        f = party.recv_tensor(SERVER)
        return trunc(AShare(party, ring_matmul(f, a) + z), k)
    p_ring, c, f = item
    party.send(CLIENT, f)
    e = memo["E"] = _cat_rows(memo.get("E"), party.recv_tensor(CLIENT) + new)  # V - A, row by row
    return trunc(AShare(party, ring_matmul(p_ring, e) + c), k)


@register_op(merge_attention)
def secure_merge_attention(value: SecretTensor, m: ServerParam, q_start: int, q_len: int, keep: torch.Tensor | None,
                           variant: str, memo: dict | None = None) -> tuple[SecretTensor, None]:
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
        plain = merge_weights(m.plain.double(), q_start, q_len, kv_len, keep, variant)
    elif q_start + q_len > m.shape[1] or kv_len > m.shape[1]:
        raise ValueError(f"sequence exceeds the merge module's max length {m.shape[1]}")
    with party.meter.scope("linear"):
        return SecretTensor(server_matrix_product(plain, value.raw, p_shape, memo, value.pending)), None
