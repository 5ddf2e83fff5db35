"""The ``refine`` plugin: registrations only (torch is named, never imported here).

``refine-duration``: Duration Net, a bidirectional LSTM that undoes random stretches of
note lengths and rests; a model trained with ``deepsym train refine-duration --corpus C``
(on ``notes4``, generating nothing) and the refiner that loads its runs
(``deepsym refine IN.mid --durations RUN -o OUT.mid``).
"""
from __future__ import annotations

from deepsym.hookspecs import Register, hookimpl
from deepsym.modeling import ModelSpec
from deepsym.refining import RefinerSpec

MODEL = "deepsym_plugins.refine_model"


@hookimpl
def register_models(register: Register) -> None:
    register(ModelSpec(
        name="refine-duration", config=f"{MODEL}:DurationNetConfig",
        module=f"{MODEL}:DurationNet", trainer="deepsym_plugins.refine_train:DurationTrainer",
        sampler=None, representation="notes4", extra="refine",
        description="Duration Net (a refiner): bidirectional LSTM undoing random 80-120% "
                    "stretches of note lengths and rests"))


@hookimpl
def register_refiners(register: Register) -> None:
    register(RefinerSpec(
        name="refine-duration", load=f"{MODEL}:DurationRefiner", model="refine-duration",
        extra="refine", requires=("torch",),
        description="re-times notes and rests with a trained Duration Net"))
