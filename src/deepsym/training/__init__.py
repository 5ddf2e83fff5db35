"""Training: the Trainer interface (phases of optimizer updates), its options, and the
engine that runs it (devices, data order, validation, checkpoints, logs, torchrun).

``deepsym.training.engine`` and ``checkpoint`` import torch; importing this package
does not.
"""
from deepsym.training.base import Phase, Trainer, Update, UpdateLog
from deepsym.training.options import TrainOptions

__all__ = ["Phase", "TrainOptions", "Trainer", "Update", "UpdateLog"]
