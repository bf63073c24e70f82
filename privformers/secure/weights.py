"""Setup: every float parameter and persistent buffer of a model becomes a server-held ``ServerParam``.

The server passes its real model; the client and dealer build the same architecture with any
placeholder values, which are never read (only shapes). Each weight is masked once
(``ServerWeight``); the server also keeps the plaintext of vectors (biases, norm weights), while a matrix's
plaintext (a server-local lookup of public rows) is decoded on demand from the float64 copy it holds for
products: 8 bytes per matrix parameter on the server, nothing more.
Tied weights (GPT-2's LM head and token embedding) stay one object, masked once.

Non-persistent buffers (rotary embeddings' inverse frequencies, Gemma's embedding scale, BART's
final_logits_bias) are not in the state dict: every party computes them from the public config, so
they stay plain public tensors (rotary cos/sin then become public factors, see ``ops/elementwise.py``).
"""

from __future__ import annotations

import torch

import privformers.secure.ops  # noqa: F401 - registers the secure ops (server_local's for ops on server weights)
from privformers.mpc.party import SERVER, Party
from privformers.mpc.protocols.weights import ServerWeight
from privformers.secure.tensor import ServerParam


def protect_weights(model: torch.nn.Module, party: Party) -> dict[str, ServerParam]:
    """Replace float parameters and persistent buffers in place by ServerParams; returns them by name."""
    made: dict[int, ServerParam] = {}
    named: dict[str, ServerParam] = {}
    for mod_name, module in model.named_modules():
        for table in (module._parameters, module._buffers):
            for name, t in table.items():
                if t is None or not t.is_floating_point():
                    continue
                if table is module._buffers and name in module._non_persistent_buffers_set:
                    continue   # derived from the config on every party: public
                if id(t) not in made:
                    full = f"{mod_name}.{name}" if mod_name else name
                    plain = t.detach() if party.role == SERVER else None
                    sw = ServerWeight(party, plain, tuple(t.shape), name=full)
                    kept = plain if plain is not None and t.dim() < 2 else None   # a matrix: decoded on demand
                    made[id(t)] = ServerParam(sw, kept, full, t.dtype)
                    named[full] = made[id(t)]
                table[name] = made[id(t)]
    return named
