"""Training: the Trainer interface (phases of optimizer updates) and, later, its engines."""
from deepsym.training.base import Phase, Trainer, Update, UpdateLog

__all__ = ["Phase", "Trainer", "Update", "UpdateLog"]
