"""The public plan of a generation session: what every party knows and agrees on before it starts.

A call with several prompts runs as passes of at most ``batch_size`` rows each. A padded pass holds
prompts of any lengths up to its width (left-padded by the client, their lengths secret:
``padding.py``); an unpadded pass holds prompts of exactly its width, so each length is public (the
only way for models that cannot pad, and only when the caller allows it: ``lengths_public``).
The plan also fixes how tokens are chosen (secure argmax, sampling, or logits revealed to the
client), whether the session may end at a stop token (the server then learns the output length),
and the KV cache. It travels as plain JSON: on every party's command line, and from a ``serve``
client to the server and the dealer. Prompts and stop tokens never appear in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

SAMPLING_KEYS = ("temperature", "top_k", "top_p")


@dataclass(frozen=True)
class Plan:
    """Public parameters of a generation session (see the module docstring).

    passes: (rows, width) per pass; padded: whether the passes are padded; sampling: None for the
    secure argmax, else {"temperature", "top_k", "top_p"} (top_k/top_p may be None)."""

    passes: tuple[tuple[int, int], ...]
    max_new_tokens: int
    padded: bool = False
    sampling: dict | None = field(default=None, hash=False)
    reveal_logits: bool = False
    stop_early: bool = False
    use_cache: bool = True
    bits: int = 48

    def __post_init__(self) -> None:
        if not self.passes:
            raise ValueError("a plan needs at least one pass")
        for rows, width in self.passes:
            if type(rows) is not int or type(width) is not int or rows < 1 or width < 1:
                raise ValueError(f"each pass needs rows >= 1 and width >= 1, not ({rows!r}, {width!r})")
        if type(self.max_new_tokens) is not int or self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be an integer >= 1, not {self.max_new_tokens!r}")
        for name in ("padded", "reveal_logits", "stop_early", "use_cache"):
            if type(getattr(self, name)) is not bool:
                raise ValueError(f"{name} must be true or false")
        if type(self.bits) is not int or not 16 <= self.bits <= 64:
            raise ValueError(f"bits must be an integer in [16, 64], not {self.bits!r}")
        if self.sampling is not None:
            check_sampling(self.sampling)
            if self.reveal_logits:
                raise ValueError("reveal_logits hands the client the logits; it cannot be combined with sampling")

    @property
    def rows(self) -> int:
        return sum(rows for rows, _ in self.passes)

    def to_json(self) -> dict:
        out = asdict(self)
        out["passes"] = [list(p) for p in self.passes]
        return out

    @classmethod
    def from_json(cls, data: object) -> Plan:
        """A plan from its JSON form; ValueError naming what is malformed (the data is public)."""
        if not isinstance(data, dict):
            raise ValueError("a plan must be a JSON object")
        known = set(cls.__dataclass_fields__)
        if set(data) - known:
            raise ValueError(f"unknown plan fields {sorted(set(data) - known)}")
        passes = data.get("passes")
        if not isinstance(passes, list) or not all(isinstance(p, list) and len(p) == 2 for p in passes):
            raise ValueError("passes must be a list of [rows, width] pairs")
        return cls(**{**data, "passes": tuple((p[0], p[1]) for p in passes)})


def check_sampling(sampling: dict) -> None:
    """temperature > 0; top_k an integer >= 1 or None; top_p in (0, 1] or None."""
    if not isinstance(sampling, dict) or set(sampling) != set(SAMPLING_KEYS):
        raise ValueError(f"sampling must give exactly {list(SAMPLING_KEYS)}")
    t, k, p = (sampling[key] for key in SAMPLING_KEYS)
    if type(t) not in (int, float) or not 0 < t < float("inf"):
        raise ValueError(f"temperature must be a positive number, not {t!r}")
    if k is not None and (type(k) is not int or k < 1):
        raise ValueError(f"top_k must be an integer >= 1 or null, not {k!r}")
    if p is not None and (type(p) not in (int, float) or not 0 < p <= 1):
        raise ValueError(f"top_p must lie in (0, 1] or be null, not {p!r}")


def plan_passes(lengths: Sequence[int], batch_size: int, padded: bool, pad_to: int | None = None
                ) -> tuple[tuple[tuple[int, int], ...], list[list[int]]]:
    """Passes for prompts of these lengths, and the prompt indices of each pass (input order kept
    inside a pass). Padded: consecutive groups of batch_size, each as wide as its longest prompt (or
    pad_to). Unpadded: equal lengths share a pass (each pass's width is its prompts' length)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    if not lengths or min(lengths) < 1:
        raise ValueError("need at least one prompt and no empty one")
    if pad_to is not None and max(lengths) > pad_to:
        raise ValueError(f"a prompt has {max(lengths)} tokens, more than pad_to={pad_to}")
    if padded:
        groups = [list(range(i, min(i + batch_size, len(lengths)))) for i in range(0, len(lengths), batch_size)]
        widths = [pad_to or max(lengths[i] for i in g) for g in groups]
    else:
        by_length: dict[int, list[int]] = {}
        for i, n in enumerate(lengths):
            by_length.setdefault(n, []).append(i)
        groups = [g[j:j + batch_size] for n, g in sorted(by_length.items()) for j in range(0, len(g), batch_size)]
        widths = [lengths[g[0]] for g in groups]
    return tuple((len(g), w) for g, w in zip(groups, widths)), groups
