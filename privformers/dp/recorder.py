"""Hooks that record, per trainable parameter, the pieces of its per-example gradient.

A forward hook on each layer with trainable parameters keeps its activation and puts a hook on
the tensor whose gradient the rule needs; when that gradient arrives in the backward pass the
rule turns (activation, gradient) into pieces. A parameter used by several calls (ALBERT's
shared layers, GPT-2's tied input/output embedding) simply collects several pieces.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import Tensor, nn

import privformers.dp.rules  # noqa: F401  (registers the built-in rules)
from privformers.dp.broadcast_guard import check_no_broadcast_parameters
from privformers.dp.pieces import Piece
from privformers.dp.registry import find_rule, registered_types


class GradientRecorder:
    """Attach to a model; collects ``pieces[param]`` during forward+backward while enabled."""

    def __init__(self, model: nn.Module):
        check_no_broadcast_parameters(model)
        self.model = model
        self.enabled = False
        self.batch_size: int | None = None
        self.pieces: dict[nn.Parameter, list[Piece]] = defaultdict(list)
        self.watched: list[Tensor] = []
        self._handles = []
        self.params: list[nn.Parameter] = []
        # (layer, name) -> the parameter as registered now: FSDP swaps a sharded parameter for its
        # gathered copy during forward and backward, and the pieces belong to the registered one
        self._owned: dict[tuple[int, str], nn.Parameter] = {}
        seen: set[int] = set()
        unsupported = []
        for name, module in model.named_modules():
            direct = [(n, p) for n, p in module.named_parameters(recurse=False) if p.requires_grad]
            if not direct:
                continue
            rule = find_rule(module)
            if rule is None:
                unsupported.append(f"{name or type(module).__name__} ({type(module).__name__}: "
                                   f"{', '.join(n for n, _ in direct)})")
                continue
            for n, p in direct:
                self._owned[(id(module), n)] = p
                if id(p) not in seen:
                    seen.add(id(p))
                    self.params.append(p)
            target = module.get_submodule(rule.watch) if rule.watch else module
            hook = self._forward_hook(module, rule)
            self._handles.append(target.register_forward_hook(hook, with_kwargs=True))
        if unsupported:
            names = ", ".join(t.__name__ for t in registered_types())
            raise ValueError("no per-example gradient rule for trainable layers: " + "; ".join(unsupported)
                             + f". Freeze them (requires_grad=False) or register a rule; supported: {names}")

    def _forward_hook(self, owner: nn.Module, rule):
        def hook(module, inputs, kwargs, output):
            if not self.enabled or not torch.is_grad_enabled():
                return
            replaced = None
            if rule.grad_of == "output":
                watched = output[0] if isinstance(output, tuple) else output
                shared = isinstance(watched, Tensor) and watched.dim() > 0 and watched.shape[0] == 1
                if shared and self.batch_size > 1:
                    # shared by the batch (position ids of shape (1, T)): give each example its copy
                    watched = replaced = watched.expand(self.batch_size, *watched.shape[1:])
            else:
                watched = inputs[0]
            if not isinstance(watched, Tensor) or not watched.requires_grad:
                return
            if rule.capture is not None:
                activation = rule.capture(module, inputs, kwargs).detach()
            else:
                first = inputs[0] if inputs else next(iter(kwargs.values()), None)
                activation = first.detach() if isinstance(first, Tensor) else None
            self.watched.append(watched)
            watched.register_hook(self._backward_hook(owner, rule, activation))
            if replaced is not None:
                return (replaced, *output[1:]) if isinstance(output, tuple) else replaced

        return hook

    def _backward_hook(self, owner: nn.Module, rule, activation):
        def hook(grad: Tensor):
            if not self.enabled:
                return
            if grad.shape[0] % self.batch_size:
                raise ValueError(
                    f"{type(owner).__name__}: gradient has leading size {grad.shape[0]}, expected the "
                    f"batch size {self.batch_size}; inputs must be batch-first")
            grad, act = grad.detach(), activation
            if grad.shape[0] != self.batch_size and grad.shape[0] % self.batch_size == 0 and act is not None \
                    and act.shape[0] == grad.shape[0]:
                # rows flattened batch-major, (B*T, d) as in OPT's MLP: restore the batch axis
                grad = grad.reshape(self.batch_size, -1, *grad.shape[1:])
                act = act.reshape(self.batch_size, -1, *act.shape[1:])
            for name, piece in rule.fn(owner, act, grad).items():
                param = self._owned.get((id(owner), name))
                if param is not None and param.requires_grad:
                    self.pieces[param].append(piece)

        return hook

    def start(self, batch_size: int) -> None:
        """Begin recording a forward pass of ``batch_size`` examples."""
        self.clear()
        self.enabled = True
        self.batch_size = batch_size

    def clear(self) -> None:
        """Drop recorded pieces and watched tensors."""
        self.pieces = defaultdict(list)
        self.watched = []

    def remove(self) -> None:
        """Remove all hooks from the model."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
