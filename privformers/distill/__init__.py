"""Distillation of MPC-friendly students: MPCFormer's two stages and MERGE's ER/MM training.

``distill(student, teacher, batches, stages, out)`` trains through stages of objectives
(``mpcformer_stage1``, ``mpcformer_stage2``, ``merge_objective``), with progress bars, resumable
checkpoints and the final student saved by ``save_student`` (recipe included).
"""

from privformers.distill.objectives import (
    MergeWeights,
    MPCFormerWeights,
    merge_objective,
    mpcformer_stage1,
    mpcformer_stage2,
    noisy_embeddings,
)
from privformers.distill.trainer import Stage, TrainerConfig, distill

__all__ = ["MPCFormerWeights", "MergeWeights", "Stage", "TrainerConfig", "distill", "merge_objective",
           "mpcformer_stage1", "mpcformer_stage2", "noisy_embeddings"]
