"""The torch device a command runs on: one check for ``train``, ``sample``, ``evaluate``
and ``demo``, so that a device is refused (unknown, absent) the same way everywhere."""
from __future__ import annotations

from typing import TYPE_CHECKING

from deepsym.errors import DeepsymError
from deepsym.training.distributed import Context

if TYPE_CHECKING:
    import torch

DEVICE_TYPES = ("cpu", "cuda", "mps")


def choose_device(requested: str | None = None, context: Context | None = None
                  ) -> torch.device:
    """CUDA when available (the process's own GPU under torchrun), else the CPU;
    ``requested`` ("cpu", "cuda", "cuda:1", "mps") overrides and must be available."""
    import torch

    context = context or Context()
    if requested in (None, "auto"):
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(requested)
    except RuntimeError:
        device = None
    if device is None or device.type not in DEVICE_TYPES:
        raise DeepsymError(f"unknown device {requested!r}; use cpu, cuda, cuda:N or mps")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeepsymError(f"device {requested!r}: CUDA is not available here (torch "
                               f"{torch.__version__}); use --device cpu")
        index = context.local_rank if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise DeepsymError(f"device cuda:{index} does not exist; this machine has "
                               f"{torch.cuda.device_count()} CUDA device(s)")
        return torch.device("cuda", index)
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DeepsymError("device 'mps' is not available here; use --device cpu")
    return device


__all__ = ["DEVICE_TYPES", "choose_device"]
