"""Named recipes: which approximations a converted model uses (plain data, saved next to a checkpoint)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

ACTIVATIONS = ("quad", "relu")
SOFTMAXES = ("2quad", "2relu", "cubic")
NORMS = ("affine",)


@dataclass(frozen=True)
class Recipe:
    """What to replace. None keeps the original op.

    activation: "quad" (MPCFormer's Quad for GeLU and ReLU) or "relu" (THE-X's ReLU for GeLU);
    softmax: "2quad", "2relu" (MPCFormer) or "cubic" (THE-X's ReLU-cubic with a learned normaliser);
    norm: "affine" (THE-X's learned affine map for LayerNorm / RMS norm);
    merge: a Merge Module variant, "masked" or "zeroed" (MERGE; replaces attention, Q and K);
    resend: Embedding Resending in generation (MERGE; the next input is the last final hidden state).
    """

    name: str
    activation: str | None = None
    softmax: str | None = None
    norm: str | None = None
    merge: str | None = None
    resend: bool = False
    quad_c: float = 5.0
    merge_max_len: int = 128

    def __post_init__(self) -> None:
        for field, allowed in (("activation", ACTIVATIONS), ("softmax", SOFTMAXES), ("norm", NORMS),
                               ("merge", ("masked", "zeroed"))):
            value = getattr(self, field)
            if value is not None and value not in allowed:
                raise ValueError(f"recipe {self.name!r}: {field} must be one of {allowed} or None, not {value!r}")
        if self.merge and self.softmax:
            raise ValueError(f"recipe {self.name!r}: a Merge Module replaces the attention softmax; "
                             "set merge or softmax, not both")
        if self.merge_max_len < 1:
            raise ValueError(f"recipe {self.name!r}: merge_max_len must be positive")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Recipe:
        """A recipe from its saved fields (unknown fields are an error, not ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        extra = set(data) - known
        if extra:
            raise ValueError(f"unknown recipe fields {sorted(extra)}")
        return cls(**data)


RECIPES: dict[str, Recipe] = {}


def register_recipe(recipe: Recipe) -> Recipe:
    """Add a named recipe (an extension point: ``approximate(model, name)`` then finds it)."""
    RECIPES[recipe.name] = recipe
    return recipe


for _r in (
    Recipe("mpcformer-quad-2quad", activation="quad", softmax="2quad"),
    Recipe("mpcformer-quad-2relu", activation="quad", softmax="2relu"),
    Recipe("thex", activation="relu", softmax="cubic", norm="affine"),
    Recipe("merge-er", resend=True),
    Recipe("merge-mm", merge="zeroed"),
    Recipe("merge", merge="zeroed", resend=True),
    # MERGE's own run script ("method 7"): ER + MM with its quadratic activation and simplified LayerNorm
    Recipe("merge-quad-affine", activation="quad", norm="affine", merge="zeroed", resend=True),
):
    register_recipe(_r)


def get_recipe(recipe: str | Recipe | dict, **overrides: object) -> Recipe:
    """A registered recipe by name (or a Recipe as is, or its ``to_dict`` form), with fields overridden."""
    if isinstance(recipe, dict):
        recipe = Recipe.from_dict(recipe)
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; known: {sorted(RECIPES)}")
        recipe = RECIPES[recipe]
    return dataclasses.replace(recipe, **overrides) if overrides else recipe
