"""Running a Hugging Face model's forward pass under MPC: the program and a one-call helper."""

from __future__ import annotations

from collections.abc import Callable

import torch

import privformers.secure.ops  # noqa: F401 - registers the secure ops
from privformers.mpc.party import CLIENT, SERVER, Party
from privformers.mpc.protocols.inputs import reveal_to
from privformers.mpc.session import LocalRun, Program, run_local
from privformers.secure import tracking
from privformers.secure.adapt import adapt
from privformers.secure.modules import apply_module_rules
from privformers.secure.placeholders import shape_only_parameters
from privformers.secure.tensor import PrivateIds, SecretTensor
from privformers.secure.weights import protect_weights

PRIVATE_INPUTS = ("input_ids", "decoder_input_ids")


def _private_ids(party: Party, ids: torch.Tensor) -> PrivateIds:
    """The client's ids on the client; zeros of the same (public) shape on the other parties."""
    value = ids if party.role == CLIENT else torch.zeros_like(ids)
    return value.as_subclass(PrivateIds)


def secure_program(model_factory: Callable[[], torch.nn.Module], weights: dict[str, torch.Tensor] | None,
                   inputs: dict[str, torch.Tensor], output: str = "logits",
                   material_budget: int | None = None) -> Program:
    """A Program: every party builds the model; the server loads ``weights``; token ids in
    ``inputs`` (input_ids, decoder_input_ids) are the client's secrets, other inputs are public;
    ``output`` of the model's result is revealed to the client. material_budget: stream the
    correlated material, at most this many bytes ahead (see ``Program``)."""

    def setup(party: Party) -> torch.nn.Module:
        with shape_only_parameters(party.role != SERVER):   # client and dealer: shapes only, no memory
            model = model_factory().eval()
        if party.role == SERVER:
            model.load_state_dict(weights)
        for m in model.modules():  # no KV cache (encoder-decoder stacks keep their own config copies)
            if hasattr(getattr(m, "config", None), "use_cache"):
                m.config.use_cache = False
        adapt(model)   # folds, secure attention: the same change on every party; only the server's weights are real
        protect_weights(model, party)
        tracking.track_modules(model)
        apply_module_rules(model)
        return model

    def run(party: Party, model: torch.nn.Module) -> torch.Tensor | None:
        tracking.reset()
        kwargs = {k: _private_ids(party, v) if k in PRIVATE_INPUTS else v for k, v in inputs.items()}
        with torch.no_grad():
            out = model(**kwargs)
        y = out[output]
        if not isinstance(y, SecretTensor):
            raise TypeError(f"model output {output!r} is not a secret tensor")
        return reveal_to(y.share, CLIENT)

    return Program(run=run, setup=setup, material_budget=material_budget)


def secure_run(model_factory: Callable[[], torch.nn.Module], weights: dict[str, torch.Tensor] | None,
               frac_bits: int = 16, output: str = "logits", material_budget: int | None = None,
               **inputs: torch.Tensor) -> LocalRun:
    """Run the secure forward pass with the three parties as local threads (results and meters)."""
    program = secure_program(model_factory, weights, inputs, output, material_budget)
    return run_local(program, frac_bits=frac_bits)


def secure_forward(model_factory: Callable[[], torch.nn.Module], weights: dict[str, torch.Tensor] | None,
                   frac_bits: int = 16, output: str = "logits", material_budget: int | None = None,
                   **inputs: torch.Tensor) -> torch.Tensor:
    """The client's result (default: logits) of model(**inputs) under MPC, parties as local threads.
    material_budget: stream the correlated material at most this many bytes ahead (bounded memory)."""
    return secure_run(model_factory, weights, frac_bits, output, material_budget, **inputs).results[CLIENT]
