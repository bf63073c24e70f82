"""Distillation of MPC-friendly students: MPCFormer's two stages and MERGE's ER/MM training.

``distill(student, teacher, batches, stages, out)`` trains through stages of objectives
(``mpcformer_stage1``, ``mpcformer_stage2``, ``merge_objective``), with progress bars, resumable
checkpoints and the final student saved by ``save_student`` (recipe included).
``distill_private`` trains on private rows with DP-SGD (per-example objectives, clipping, noise).
"""

from typing import TYPE_CHECKING

from privformers.lazy import lazy_exports

_EXPORTS = {
    "MergeWeights": "objectives",
    "MPCFormerWeights": "objectives",
    "merge_objective": "objectives",
    "mpcformer_stage1": "objectives",
    "mpcformer_stage2": "objectives",
    "noisy_embeddings": "objectives",
    "PrivateDistillConfig": "private",
    "Stage": "trainer",
    "TrainerConfig": "trainer",
    "distill": "trainer",
    "distill_private": "private",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:   # the lazy names' real definitions, for IDEs and type checkers (never run)
    from privformers.distill.objectives import MergeWeights as MergeWeights
    from privformers.distill.objectives import MPCFormerWeights as MPCFormerWeights
    from privformers.distill.objectives import merge_objective as merge_objective
    from privformers.distill.objectives import mpcformer_stage1 as mpcformer_stage1
    from privformers.distill.objectives import mpcformer_stage2 as mpcformer_stage2
    from privformers.distill.objectives import noisy_embeddings as noisy_embeddings
    from privformers.distill.trainer import Stage as Stage
    from privformers.distill.trainer import TrainerConfig as TrainerConfig
    from privformers.distill.trainer import distill as distill
