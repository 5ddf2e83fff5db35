"""The ``refine`` plugin: registrations only (torch is named, never imported here).

Each net is a model trained with ``deepsym train NAME --corpus C`` (generating nothing)
and the refiner of the same name that loads its runs (``deepsym refine``):

- ``refine-duration``: Duration Net, a bidirectional LSTM that undoes random stretches
  of note lengths and rests, re-timing them on a grid (on ``notes4``);
- ``refine-velocity``: Velocity Net, a bidirectional LSTM giving each note a velocity
  from its timing, pitch and place in the bar (on ``notes-meter``, registered here); it
  learns from a corpus with dynamics (performed MIDI), which the chorales have not.
"""
from __future__ import annotations

from deepsym_plugins.refine_features import NotesMeter

from deepsym.hookspecs import Register, hookimpl
from deepsym.modeling import ModelSpec
from deepsym.refining import RefinerSpec

MODEL = "deepsym_plugins.refine_model"
TRAIN = "deepsym_plugins.refine_train"


@hookimpl
def register_representations(register: Register) -> None:
    register(NotesMeter)


@hookimpl
def register_models(register: Register) -> None:
    register(ModelSpec(
        name="refine-duration", config=f"{MODEL}:DurationNetConfig",
        module=f"{MODEL}:DurationNet", trainer=f"{TRAIN}:DurationTrainer",
        sampler=None, representation="notes4", extra="refine",
        description="Duration Net (a refiner): bidirectional LSTM undoing random 80-120% "
                    "stretches of note lengths and rests on the sixteenth grid"))
    register(ModelSpec(
        name="refine-velocity", config=f"{MODEL}:VelocityNetConfig",
        module=f"{MODEL}:VelocityNet", trainer=f"{TRAIN}:VelocityTrainer",
        sampler=None, representation=NotesMeter.name, extra="refine",
        description="Velocity Net (a refiner): bidirectional LSTM giving each note a "
                    "velocity from its timing, pitch and bar phase"))


@hookimpl
def register_refiners(register: Register) -> None:
    register(RefinerSpec(
        name="refine-duration", load=f"{MODEL}:DurationRefiner", model="refine-duration",
        extra="refine", requires=("torch",),
        description="re-times notes and rests with a trained Duration Net"))
    register(RefinerSpec(
        name="refine-velocity", load=f"{MODEL}:VelocityRefiner", model="refine-velocity",
        extra="refine", requires=("torch",),
        description="gives every note the velocity a trained Velocity Net predicts"))
