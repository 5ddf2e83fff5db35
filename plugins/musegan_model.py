"""MuseGAN (Dong et al., AAAI 2018): its frozen config and its nn.Modules.

A sample is ``(bars, tracks, steps, pitches)`` of the ``bars`` representation. The
generator makes every bar of every track from random vectors of four kinds (the
paper's section 3): shared by the tracks or one per track ("inter" / "intra"), and the
same for every bar or one per bar ("time-independent" / "temporal": a temporal
generator maps one vector to one vector per bar by transposed convolutions over the
bar axis). The three models of the paper differ in which they use:

- ``jamming``: one bar generator per track, fed that track's vectors only;
- ``composer``: one bar generator making every track (tracks as channels), fed the
  shared vectors only;
- ``hybrid``: one bar generator per track, fed the shared vectors and its own.

A bar generator is a dense layer, then layers expanding time (beats, then steps) and
then pitch (octaves, then the 12 pitch classes), batch norm and ReLU between (batch
norm in the generator only). The paper expands by transposed convolutions throughout;
ours turns beats into steps by repeating each beat and convolving over the steps
around (``time_upsampling="resize"``, Odena, Dumoulin and Olah, "Deconvolution and
checkerboard artifacts", Distill 2016), which lets a note run on across steps and
beats where the paper's cuts it. The critic reads all tracks as channels of
3-D convolutions over (bars, steps, pitches), pitch first, and gives one score.

From BinaryMuseGAN (Dong & Yang, "Convolutional generative adversarial networks with
binary neurons for polyphonic music generation", ISMIR 2018):

- binary neurons: ``binary="deterministic"`` rounds the generator's probabilities,
  ``"stochastic"`` draws each note from them, both passing gradients straight through;
- the critic's chroma and onset streams beside the piano-roll (``critic_streams``),
  which let it see, and so the generator learn, harmony and how notes are cut;
- logistic noise on the logits before the binary neurons in training (``logit_noise``;
  ours, not theirs), which keeps the neurons from settling just past the threshold;
- a refiner per track (``refiner_units`` residual units over time and pitch) between
  the bar generators and the binary neurons.

Ours: ``output="voice"`` makes each track a single line, one pitch or a rest a step (a
softmax over the pitches and a rest, the likeliest taken), for voices such as the
chorales' (on JSB it closed the bass's gap to the data, docs/results.md); it is the
default under ``rule="voice"``.

Sources: "the paper" is Dong, Hsiao, Yang and Yang, "MuseGAN: multi-track sequential
generative adversarial networks for symbolic music generation and accompaniment",
AAAI 2018 (arXiv:1709.06298).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, NamedTuple

import torch
from torch import nn

from deepsym.representations.bars import FAMILIES, Bars

MODES = ("jamming", "composer", "hybrid")


@dataclass(frozen=True)
class MuseGANConfig:
    """Sizes, the model kind and the optimizers' settings of MuseGAN.

    The defaults fit the JSB chorales: the 4 voices as 4 tracks (``rule="voice"``), 4
    bars of 4 beats of 4 steps, 84 pitches from C1. The paper's LPD-5 setting is
    ``rule="family"``, ``n_tracks=5``, ``steps_per_beat=24``. Training is WGAN-GP:
    ``n_critic`` critic updates per generator update, gradient penalty weight
    ``gp_weight``, Adam at ``learning_rate`` with ``betas`` for both sides (the paper's).
    The critic reads the piano-roll, its chroma and its note starts and ends
    (BinaryMuseGAN's streams: on JSB they cut the generator's notes into far fewer
    pieces, docs/results.md); ``critic_streams=("roll",)`` is the paper's critic, and
    with ``time_upsampling="transposed"`` the paper's generator too.
    """

    mode: Literal["jamming", "composer", "hybrid"] = "hybrid"
    rule: Literal["voice", "family"] = "voice"
    n_tracks: int = 4
    n_bars: int = 4  # bars per training sample (a phrase)
    steps_per_beat: int = 4
    beats_per_bar: int = 4
    lowest_pitch: int = 24  # C1
    n_pitches: int = 84  # a multiple of 12: the generator expands octaves, then classes
    # General MIDI program of each decoded track (None: 0, or the family's for "family")
    programs: tuple[int, ...] | None = None
    latent: int = 32  # values per random vector (the paper: 32 for each of the four)
    generator_channels: int = 128  # the bar generator's widest layer
    critic_channels: int = 64
    # residual units of each track's refiner after the bar generators (BinaryMuseGAN's R);
    # none by default: on JSB, 2 units slowed rounds 2.5 times and gave no longer notes
    refiner_units: int = 0
    # how the bar generator turns beats into steps: "resize" (each beat's features
    # repeated over its steps, then a convolution over half a beat either side, so
    # neighbouring steps share their inputs) or "transposed" (the paper's: each step of a
    # beat from its own weights and that beat alone). On JSB, resizing took QN2 from
    # 27-54 % to 50-82 % at the same budget (docs/results.md)
    time_upsampling: Literal["transposed", "resize"] = "resize"
    # the critic's views of a phrase (see Critic); ("roll",) is the paper's critic
    critic_streams: tuple[str, ...] = ("roll", "chroma", "onsets")
    # whether the critic's pitch convolutions read each track apart (BinaryMuseGAN's
    # private discriminator layers; see Critic) or all tracks together (the paper).
    # On JSB at 1,800 rounds: the same QN2 for the bass, looser harmony (docs/results.md)
    critic_private: bool = False
    # binary neurons in training (BinaryMuseGAN); ours by default, the paper's MuseGAN has
    # none. Measured on JSB, 4 minutes on a shared CPU: with none, 171 rounds left
    # probabilities that a 0.5 threshold turned into 20 notes a phrase, the same in every
    # phrase; stochastic, 90 rounds gave one phrase for every draw; deterministic, 81
    # rounds gave varied phrases of the real note density (1.3 % of cells vs 1.2 %)
    binary: Literal["none", "deterministic", "stochastic"] = "deterministic"
    # scale of the logistic noise added to the generator's logits in training, before the
    # binary neurons (see noisy); 0: none. Deterministic neurons pass the critic's
    # gradient straight through, and nothing pushes a sounding cell's logit past the
    # threshold: on JSB they sat at a median 0.04, where the 0.5 threshold cut notes
    # into sixteenths. Under noise a cell near the threshold flips, the critic sees the
    # note cut, and the generator learns a margin: in 400 rounds mean QN2 62 % -> 83 %
    # at 0.1 and 0.15; at 0.2 and 0.3 voices fell silent (docs/results.md)
    logit_noise: float = 0.1
    # what a track sounds at a step: "notes" (each pitch by its own probability, a
    # sigmoid: chords and rests as they come) or "voice" (one pitch or a rest: a softmax
    # over the pitches and a rest whose logit is 0, a singer's line). Under "voice" the
    # binary neurons take the likeliest (or draw one) and the logit noise is Gumbel's.
    # "auto" (the default) becomes "voice" for rule="voice", where every track is one
    # line (on JSB at 1,000 rounds: the bass's QN2 90-92 % in three seeds, against 84-85 %
    # with "notes"; docs/results.md), and "notes" for rule="family", whose pianos and
    # guitars sound chords. Runs saved before this field existed had "notes"
    output: Literal["auto", "notes", "voice"] = "auto"
    n_critic: int = 5  # critic updates per generator update (the paper)
    gp_weight: float = 10.0  # the gradient penalty's lambda (WGAN-GP, the paper)
    batch_size: int = 32  # the paper's 64 halves the rounds a CPU makes in a budget
    learning_rate: float = 1e-3  # Adam's alpha (the paper)
    betas: tuple[float, float] = (0.5, 0.9)  # Adam's beta1, beta2 (the paper)

    former_defaults: ClassVar[dict[str, Any]] = {"output": "notes"}

    def __post_init__(self) -> None:
        if self.output == "auto":
            object.__setattr__(self, "output", "voice" if self.rule == "voice" else "notes")
        for name in ("n_tracks", "n_bars", "steps_per_beat", "beats_per_bar", "latent",
                     "generator_channels", "critic_channels", "n_critic", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.refiner_units < 0:
            raise ValueError(f"refiner_units must be >= 0, not {self.refiner_units}")
        if self.output not in ("notes", "voice"):
            raise ValueError(f'output must be "auto", "notes" or "voice", not '
                             f"{self.output!r}")
        if self.time_upsampling not in ("transposed", "resize"):
            raise ValueError(f'time_upsampling must be "transposed" or "resize", not '
                             f"{self.time_upsampling!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.n_pitches < 12 or self.n_pitches % 12:
            raise ValueError(f"n_pitches must be a positive multiple of 12, not "
                             f"{self.n_pitches}")
        if not 0 <= self.lowest_pitch <= 128 - self.n_pitches:
            raise ValueError(f"lowest_pitch {self.lowest_pitch} + n_pitches "
                             f"{self.n_pitches} must lie within MIDI's 0..127")
        if self.rule == "family" and self.n_tracks != len(FAMILIES):
            raise ValueError(f'rule="family" needs n_tracks={len(FAMILIES)}, not '
                             f"{self.n_tracks}")
        unknown = set(self.critic_streams) - set(VIEWS)
        if unknown or not self.critic_streams or len(set(self.critic_streams)) < len(
                self.critic_streams):
            raise ValueError(f"critic_streams must be distinct names among "
                             f"{', '.join(VIEWS)}, not {list(self.critic_streams)}")
        for name in ("gp_weight", "logit_noise"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)}")

    @property
    def steps_per_bar(self) -> int:
        return self.steps_per_beat * self.beats_per_bar

    def make_representation(self) -> Bars:
        """The ``bars`` representation of these sizes."""
        return Bars(rule=self.rule, n_tracks=self.n_tracks, steps_per_beat=self.steps_per_beat,
                    beats_per_bar=self.beats_per_bar, programs=self.programs,
                    pitch_range=(self.lowest_pitch, self.lowest_pitch + self.n_pitches))


class Latents(NamedTuple):
    """The random vectors of a batch; a model uses some (``Generator.kinds``).

    ``inter`` ``(batch, latent)`` and ``inter_temporal`` ``(batch, latent)`` are shared
    by the tracks; ``intra`` and ``intra_temporal`` ``(batch, tracks, latent)`` are one
    per track. The temporal ones are the temporal generators' inputs."""

    inter: torch.Tensor | None = None
    inter_temporal: torch.Tensor | None = None
    intra: torch.Tensor | None = None
    intra_temporal: torch.Tensor | None = None


#: the vectors each mode draws
KINDS = {"jamming": ("intra", "intra_temporal"), "composer": ("inter", "inter_temporal"),
         "hybrid": Latents._fields}


class TemporalGenerator(nn.Module):
    """One vector ``(batch, latent)`` to one per bar ``(batch, bars, latent)``: two
    transposed convolutions over the bar axis (1 -> 2 -> bars), batch norm and ReLU
    between."""

    def __init__(self, latent: int, bars: int, channels: int = 256) -> None:
        super().__init__()
        first = min(2, bars)
        self.net = nn.Sequential(
            nn.ConvTranspose1d(latent, channels, first), nn.BatchNorm1d(channels), nn.ReLU(),
            nn.ConvTranspose1d(channels, latent, bars - first + 1), nn.BatchNorm1d(latent),
            nn.ReLU())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None]).transpose(1, 2)


class BarGenerator(nn.Module):
    """A vector ``(batch, inputs)`` to the logits of one bar ``(batch, tracks, steps,
    pitches)``: dense, then 2-D layers over (time, pitch) expanding time (to beats by a
    transposed convolution, then to steps as ``config.time_upsampling`` says) and then
    pitch (to octaves, then the 12 classes, by transposed convolutions)."""

    def __init__(self, inputs: int, tracks: int, config: MuseGANConfig) -> None:
        super().__init__()
        c = config.generator_channels
        octaves = config.n_pitches // 12
        self.dense = nn.Sequential(nn.Linear(inputs, c), nn.BatchNorm1d(c), nn.ReLU())
        steps = (_up(c // 2, c // 2, (config.steps_per_beat, 1))
                 if config.time_upsampling == "transposed"
                 else _resize(c // 2, c // 2, config.steps_per_beat))
        self.net = nn.Sequential(
            *_up(c, c // 2, (config.beats_per_bar, 1)),
            *steps,
            *_up(c // 2, c // 4, (1, octaves)),
            nn.ConvTranspose2d(c // 4, tracks, (1, 12), stride=(1, 12)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.dense(x)[:, :, None, None])


def _up(inputs: int, outputs: int, kernel: tuple[int, int]) -> list[nn.Module]:
    """A transposed convolution multiplying (time, pitch) by ``kernel``, BN, ReLU."""
    return [nn.ConvTranspose2d(inputs, outputs, kernel, stride=kernel),
            nn.BatchNorm2d(outputs), nn.ReLU()]


def _resize(inputs: int, outputs: int, factor: int) -> list[nn.Module]:
    """Time multiplied by ``factor``: each step repeated ``factor`` times, then a
    convolution over ``2 (factor // 2) + 1`` steps (every step of a beat sees a
    different share of its neighbours, so each can differ), BN, ReLU."""
    half = factor // 2
    return [nn.Upsample(scale_factor=(factor, 1), mode="nearest"),
            nn.Conv2d(inputs, outputs, (2 * half + 1, 1), padding=(half, 0)),
            nn.BatchNorm2d(outputs), nn.ReLU()]


class Generator(nn.Module):
    """Latents to note probabilities ``(batch, bars, tracks, steps, pitches)``."""

    def __init__(self, config: MuseGANConfig) -> None:
        super().__init__()
        self.mode, self.latent = config.mode, config.latent
        self.tracks, self.bars = config.n_tracks, config.n_bars
        self.kinds = KINDS[config.mode]
        shared = sum(k.startswith("inter") for k in self.kinds)
        own = len(self.kinds) - shared
        self.temporal = nn.ModuleDict()
        if "inter_temporal" in self.kinds:
            self.temporal["inter"] = TemporalGenerator(config.latent, config.n_bars)
        # one temporal generator per track for the tracks' own temporal vectors
        self.track_temporal = nn.ModuleList(
            TemporalGenerator(config.latent, config.n_bars)
            for _ in range(config.n_tracks if "intra_temporal" in self.kinds else 0))
        inputs = config.latent * (shared + own)
        if config.mode == "composer":
            self.bar = nn.ModuleList([BarGenerator(inputs, config.n_tracks, config)])
        else:
            self.bar = nn.ModuleList(BarGenerator(inputs, 1, config)
                                     for _ in range(config.n_tracks))
        self.refiner = nn.ModuleList(
            nn.Sequential(*(ResidualUnit() for _ in range(config.refiner_units)))
            for _ in range(config.n_tracks if config.refiner_units else 0))

    def draw(self, batch: int, normal) -> Latents:
        """The latents of ``batch`` samples, each vector from ``normal(shape)`` (N(0, 1)
        draws: the paper's prior), only the kinds this mode uses."""
        shapes = {"inter": (batch, self.latent), "inter_temporal": (batch, self.latent),
                  "intra": (batch, self.tracks, self.latent),
                  "intra_temporal": (batch, self.tracks, self.latent)}
        return Latents(**{kind: normal(shapes[kind]) for kind in self.kinds})

    def forward(self, z: Latents) -> torch.Tensor:
        """Logits ``(batch, bars, tracks, steps, pitches)``, through the refiners."""
        return self.refine(self.bars_of(z))

    def refine(self, logits: torch.Tensor) -> torch.Tensor:
        """Each track's logits through its refiner, time running through the bars (the
        logits unchanged without refiners)."""
        if not self.refiner:
            return logits
        batch, bars, tracks, steps, pitches = logits.shape
        time = logits.transpose(1, 2).reshape(batch, tracks, 1, bars * steps, pitches)
        refined = torch.stack([r(time[:, k]) for k, r in enumerate(self.refiner)], 1)
        return refined.reshape(batch, tracks, bars, steps, pitches).transpose(1, 2)

    def bars_of(self, z: Latents) -> torch.Tensor:
        """The bar generators' logits ``(batch, bars, tracks, steps, pitches)``."""
        batch = len(next(v for v in z if v is not None))
        bars = self.bars
        shared = []
        if z.inter is not None:
            shared.append(z.inter[:, None].expand(-1, bars, -1))
        if z.inter_temporal is not None:
            shared.append(self.temporal["inter"](z.inter_temporal))
        if self.mode == "composer":
            x = torch.cat(shared, -1).reshape(batch * bars, -1)
            out = self.bar[0](x)
            return out.reshape(batch, bars, *out.shape[1:])
        tracks = []
        for k, bar in enumerate(self.bar):
            own = list(shared)
            if z.intra is not None:
                own.append(z.intra[:, k, None].expand(-1, bars, -1))
            if z.intra_temporal is not None:
                own.append(self.track_temporal[k](z.intra_temporal[:, k]))
            out = bar(torch.cat(own, -1).reshape(batch * bars, -1))
            tracks.append(out.reshape(batch, bars, *out.shape[2:]))
        return torch.stack(tracks, 2)


class ResidualUnit(nn.Module):
    """``x + f(x)`` on one track's logits ``(batch, 1, time, pitches)``: f is batch norm,
    ReLU and a convolution over 3 steps by 13 pitches (a tritone either side) to
    ``channels`` maps, twice (back to one map the second time). BinaryMuseGAN's refiner
    unit: it sees each note's neighbours in time, across bar lines, and in pitch before
    the binary neurons cut the notes."""

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        self.f = nn.Sequential(
            nn.BatchNorm2d(1), nn.ReLU(), nn.Conv2d(1, channels, (3, 13), padding=(1, 6)),
            nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, 1, (3, 13), padding=(1, 6)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.f(x)


class Critic(nn.Module):
    """Samples ``(batch, bars, tracks, steps, pitches)`` to one score each, with the
    tracks as channels of 3-D convolutions over (bars, steps, pitches). Each stream of
    ``config.critic_streams`` reads its own view of the phrase down to one value per
    bar, then the streams' channels join and convolutions over the bars give the score:

    - ``roll`` (the paper's critic): the piano-roll, convolved over pitch (the 12
      classes, then the octaves), then time (beats, then the bar);
    - ``chroma``: the roll summed over octaves, convolved over the 12 classes, then time;
    - ``onsets``: per step, how many notes start and how many end (the roll's
      difference along time, bar lines included, summed over pitch), convolved over time.

    With ``config.critic_private`` the pitch convolutions of ``roll`` and ``chroma``
    read each track apart (grouped convolutions, ``ceil(critic_channels / tracks)``
    channels a track), so every track's pitch features are its own before time
    mixes them: BinaryMuseGAN's private layers per track ahead of the shared ones.

    ``chroma`` and ``onsets`` are BinaryMuseGAN's extra discriminator streams (Dong &
    Yang, ISMIR 2018), there to let the critic see, and so the generator learn,
    harmony and how notes are cut. Theirs differ: the chroma is per beat (ours per
    step, which the time convolutions then read), and the onset/offset stream sums the
    signed difference, in which a note ending as another starts cancels out (ours
    counts starts and ends apart). Leaky ReLU, no batch norm (the gradient penalty
    needs each sample scored alone)."""

    def __init__(self, config: MuseGANConfig) -> None:
        super().__init__()
        c, bars, tracks = config.critic_channels, config.n_bars, config.n_tracks
        self.streams = config.critic_streams
        groups = tracks if config.critic_private else 1
        w = groups * -(-c // groups)  # the pitch layers' channels, a multiple of groups
        # each view's convolutions over pitch (kernel widths), then the channels of time
        pitch = {"roll": [(tracks, w, 12), (w, w, config.n_pitches // 12)],
                 "chroma": [(tracks, w, 12)], "onsets": []}
        channels = {"roll": w, "chroma": w, "onsets": 2 * tracks}
        self.stream = nn.ModuleDict()
        for name in self.streams:
            self.stream[name] = _convolutions(
                [(i, o, (1, 1, k), groups) for i, o, k in pitch[name]]
                + [(channels[name], c, (1, config.steps_per_beat, 1), 1),
                   (c, c, (1, config.beats_per_bar, 1), 1)])
        first = min(2, bars)
        self.bars = _convolutions([(len(self.streams) * c, c, (first, 1, 1), 1),
                                   (c, 2 * c, (bars - first + 1, 1, 1), 1)])
        self.head = nn.Linear(2 * c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)  # (batch, tracks, bars, steps, pitches)
        joined = torch.cat([self.stream[name](VIEWS[name](x)) for name in self.streams], 1)
        return self.head(self.bars(joined).flatten(1))[:, 0]


def _convolutions(layers: list[tuple[int, int, tuple[int, int, int], int]]
                  ) -> nn.Sequential:
    """Conv3d + leaky ReLU per ``(inputs, outputs, kernel, groups)``; a kernel reading one
    bar strides by itself (it cuts the axis into blocks), one over the bars slides."""
    modules: list[nn.Module] = []
    for inputs, outputs, kernel, groups in layers:
        stride = kernel if kernel[0] == 1 else (1, 1, 1)
        modules += [nn.Conv3d(inputs, outputs, kernel, stride=stride, groups=groups),
                    nn.LeakyReLU(0.2)]
    return nn.Sequential(*modules)


def _chroma(x: torch.Tensor) -> torch.Tensor:
    """``(..., pitches)`` summed over octaves: ``(..., 12)``."""
    return x.reshape(*x.shape[:-1], -1, 12).sum(-2)


def _edges(x: torch.Tensor) -> torch.Tensor:
    """``(batch, tracks, bars, steps, pitches)`` to the notes starting and the notes
    ending at each step, ``(batch, 2 tracks, bars, steps, 1)``: the positive and the
    negative parts of the difference from the step before (silence before the phrase),
    time running through the bars, summed over pitch."""
    batch, tracks, bars, steps, pitches = x.shape
    time = x.reshape(batch, tracks, bars * steps, pitches)
    change = time - nn.functional.pad(time, (0, 0, 1, 0))[:, :, :-1]
    counts = torch.cat([change.clamp_min(0), (-change).clamp_min(0)], 1).sum(-1)
    return counts.reshape(batch, 2 * tracks, bars, steps, 1)


#: what each critic stream reads of ``(batch, tracks, bars, steps, pitches)``
VIEWS = {"roll": lambda x: x, "chroma": _chroma, "onsets": _edges}


def with_rest(logits: torch.Tensor, output: str) -> torch.Tensor:
    """``(..., pitches)`` logits and, for ``output="voice"``, a rest's logit of 0 after
    them: ``(..., pitches + 1)``."""
    if output == "notes":
        return logits
    return torch.cat([logits, logits.new_zeros(*logits.shape[:-1], 1)], -1)


def probabilities_of(logits: torch.Tensor, output: str) -> torch.Tensor:
    """Each cell's probability of sounding: a sigmoid per cell (``"notes"``), or a
    softmax over the last axis, the rest's included (``"voice"``)."""
    return torch.sigmoid(logits) if output == "notes" else torch.softmax(logits, -1)


def pitches_of(x: torch.Tensor, output: str) -> torch.Tensor:
    """``x`` without the rest (``"voice"``): ``(..., pitches)``."""
    return x if output == "notes" else x[..., :-1]


def noisy(logits: torch.Tensor, scale: float, uniform: torch.Tensor,
          output: str = "notes") -> torch.Tensor:
    """``logits`` plus noise of ``scale`` from U(0, 1) draws of the same shape: logistic,
    ``logit(uniform)``, for ``"notes"``, where a logit ends above 0 with probability
    ``sigmoid(logit / scale)``; Gumbel, ``-log(-log(uniform))``, for ``"voice"``, where
    a logit ends the largest with probability ``softmax(logits / scale)``. A
    deterministic binary neuron after it is a stochastic one whose draws sharpen as
    ``scale`` falls (at 1, BinaryMuseGAN's stochastic neuron)."""
    u = uniform.clamp(1e-6, 1 - 1e-6)
    noise = torch.logit(u) if output == "notes" else -torch.log(-torch.log(u))
    return logits + scale * noise


def binarize(probabilities: torch.Tensor, kind: str, uniform: torch.Tensor | None = None,
             output: str = "notes") -> torch.Tensor:
    """Binary neurons with the straight-through estimator: the forward pass gives 0/1,
    the backward pass the gradient of ``probabilities``. ``"notes"``: each cell by
    0.5 (``"deterministic"``) or ``uniform < p`` (``"stochastic"``); ``"voice"``: the
    likeliest cell of the last axis, or the one the first ``uniform`` of each row picks
    by the cumulative probabilities. ``kind="none"``: the probabilities unchanged."""
    if kind == "none":
        return probabilities
    if output == "notes":
        hard = probabilities > 0.5 if kind == "deterministic" else uniform < probabilities
    else:
        if kind == "deterministic":
            pick = probabilities.argmax(-1, keepdim=True)
        else:
            below = probabilities.cumsum(-1) < uniform[..., :1]
            pick = below.sum(-1, keepdim=True).clamp_max(probabilities.shape[-1] - 1)
        hard = torch.zeros_like(probabilities).scatter_(-1, pick, 1.0)
    return probabilities + (hard.to(probabilities.dtype) - probabilities).detach()


class MuseGAN(nn.Module):
    """The generator and the critic, as one module so that a checkpoint holds both."""

    def __init__(self, config: MuseGANConfig) -> None:
        super().__init__()
        self.config = config
        self.generator = Generator(config)
        self.critic = Critic(config)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """From ``a`` (t=0) to ``b`` (t=1) along the last axis: the direction turns by even
    angles (spherical interpolation) and the length goes linearly, so the path keeps a
    Gaussian vector's length typical, unlike a straight line through the middle; ``t``
    broadcasts against the leading axes."""
    t = t.reshape(*t.shape, *(1,) * (a.dim() - t.dim()))
    length_a, length_b = (v.norm(dim=-1, keepdim=True).clamp_min(1e-12) for v in (a, b))
    unit_a, unit_b = a / length_a, b / length_b
    omega = torch.arccos((unit_a * unit_b).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    direction = (torch.sin((1 - t) * omega) * unit_a + torch.sin(t * omega) * unit_b) \
        / torch.sin(omega)
    return direction * ((1 - t) * length_a + t * length_b)


def phrase_walk(previous: torch.Tensor, fresh: torch.Tensor, walk: float) -> torch.Tensor:
    """The next phrase's temporal vector: ``sqrt(1 - walk^2) previous + walk fresh``, a
    step of an autoregressive walk that keeps N(0, 1) vectors N(0, 1) (``walk=1``: a new
    vector, ``0``: the same)."""
    return math.sqrt(1 - walk * walk) * previous + walk * fresh
