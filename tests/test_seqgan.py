"""SeqGAN: the discriminator, the rollout policy's lag, rewards and REINFORCE on a
scripted toy case, and a short real run through every phase from the command line."""
from __future__ import annotations

import csv

import mido
import pytest
import torch
from deepsym_plugins.char_rnn_sample import TokenSampler
from deepsym_plugins.seqgan_model import Discriminator, SeqGAN, SeqGANConfig
from deepsym_plugins.seqgan_train import SeqGANTrainer
from music21_corpus import first_chorales
from torch import nn

from deepsym import read_midi
from deepsym.cli import main
from deepsym.data import build_corpus
from deepsym.sampling.policy import draw
from deepsym.sampling.run import load_sampler
from deepsym.training import Update
from deepsym.training.checkpoint import load_checkpoint
from deepsym.training.engine import Budget, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"vocabulary": "events", "embedding": 8, "hidden": 16, "sequence_length": 8,
         "batch_size": 16, "rollouts": 4, "d_embedding": 8, "d_widths": (1, 2, 4),
         "d_filters": (4, 4, 4)}


def small(**fields) -> SeqGANConfig:
    return SeqGANConfig(**{**SMALL, **fields})


def trainer(config: SeqGANConfig, seed: int = 0) -> SeqGANTrainer:
    torch.manual_seed(seed)
    return SeqGANTrainer(SeqGAN(config), config, seed=seed)


def test_config_checks():
    for fields, message in [({"conditions": ("density",)}, "unconditional"),
                            ({"rollouts": 0}, "rollouts"),
                            ({"d_widths": (1, 2), "d_filters": (4,)}, "one filter count"),
                            ({"d_widths": (1, 2, 9)}, "longer than the sequences"),
                            ({"rollout_update_rate": 1.5}, "rollout_update_rate"),
                            ({"sequence_length": 1}, "at least 2")]:
        with pytest.raises(ValueError, match=message):
            small(**fields)


def test_the_discriminator_scores_each_sequence_and_drops_out_from_the_rng():
    config = small()
    discriminator = Discriminator(config, 50)
    tokens = torch.randint(0, 50, (5, 8), generator=torch.Generator().manual_seed(0))
    scores = discriminator(tokens)
    assert scores.shape == (5,)
    assert torch.allclose(discriminator(tokens[2:3]), scores[2:3], atol=1e-6)  # no batch mixing
    def uniform(shape: tuple[int, ...]) -> torch.Tensor:
        return torch.rand(shape, generator=torch.Generator().manual_seed(1))

    first = discriminator(tokens, uniform)
    assert torch.equal(first, discriminator(tokens, uniform))
    assert not torch.allclose(first, scores)


def test_the_rollout_policy_copies_then_lags_the_generator():
    model = SeqGAN(small())
    model.follow(0.8)
    assert bool(model.rollout_ready)
    for mine, theirs in zip(model.rollout.parameters(), model.generator.parameters(),
                            strict=True):
        assert torch.equal(mine, theirs)
    before = next(model.rollout.parameters()).clone()
    with torch.no_grad():
        next(model.generator.parameters()).add_(1.0)
    model.follow(0.8)
    assert torch.allclose(next(model.rollout.parameters()), before + 0.2, atol=1e-6)
    assert "rollout_ready" in model.state_dict()


def test_rewards_are_rollout_scores_per_prefix_and_the_whole_sequences_score():
    t = trainer(small())
    t.network.follow(0.8)
    tokens = t.fakes(3)
    rewards = t.rewards(tokens)
    assert rewards.shape == (3, 8)
    assert ((rewards > 0) & (rewards < 1)).all()
    assert torch.allclose(rewards[:, -1], t.score(tokens))


class NoteOnCritic(nn.Module):
    """A scripted discriminator: the logit is 8 x (share of NOTE_ON tokens) - 4."""

    def __init__(self, note_ons: int) -> None:
        super().__init__()
        self.note_ons = note_ons

    def forward(self, tokens: torch.Tensor, rng: torch.Generator | None = None
                ) -> torch.Tensor:
        return 8 * (tokens < self.note_ons).float().mean(-1) - 4


def note_on_share(t: SeqGANTrainer) -> float:
    tokens = draw(t.network.generator, 256, 8, generator=torch.Generator().manual_seed(9))
    return float((tokens < 128).float().mean())


def test_reinforce_moves_the_generator_toward_what_the_discriminator_rewards():
    """REINFORCE against a critic that rewards NOTE_ON tokens (128 of the events
    vocabulary's tokens): the policy steps raise their share in the generator's draws."""
    t = trainer(small(learning_rate=3e-2))
    t.network.discriminator = NoteOnCritic(128)
    batch = {"x": torch.zeros(16, 9, dtype=torch.long), "mask": torch.ones(16, 9, dtype=bool)}
    before = note_on_share(t)
    logs = [t.apply(Update("policy_step", "generator"), batch) for _ in range(40)]
    after = note_on_share(t)
    assert all(finite for _, _, finite, _ in logs)
    assert {"reward", "sample_nll"} <= set(logs[0][3])
    assert logs[-1][3]["reward"] > logs[0][3]["reward"]
    assert before < 0.5 < after


def test_note_duration_tokens_train_and_decode():
    """One token per note or shift: a policy step and a discriminator step run, and the
    generator's draws decode into a score on its grid."""
    config = small(vocabulary="note-duration", max_duration=8)
    t = trainer(config)
    assert t.network.generator.vocab_size == 129 * 8
    batch = {"x": torch.randint(0, 129 * 8, (16, 9)), "mask": torch.ones(16, 9, dtype=bool)}
    for update in (Update("policy_step", "generator"),
                   Update("discriminator_step", "discriminator")):
        assert t.apply(update, batch)[2]
    score = config.make_representation().decode(t.fakes(1)[0].numpy())
    assert score.ticks_per_beat == config.steps_per_beat


# -- a real run ----------------------------------------------------------------------------


SETTINGS = {**SMALL, "vocabulary": "auto", "pretrain_steps": 3, "d_pretrain_steps": 2,
            "d_steps": 2, "batch_size": 4, "valid_every": 3, "log_every": 1}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """12 real chorales."""
    root = tmp_path_factory.mktemp("seqgan")
    chorales = first_chorales(12)
    build_corpus(chorales, root / "corpus", workers=1, fractions=(0.7, 0.3, 0.0))
    return root / "corpus"


@pytest.fixture(scope="module")
def run(corpus):
    """Every phase (3 MLE, 2 discriminator, 2 adversarial rounds) from the command line."""
    pairs = [f"{k}={list(v) if isinstance(v, tuple) else v}" for k, v in SETTINGS.items()]
    out = corpus.parent / "run"
    args = ["train", "seqgan", "--corpus", str(corpus), "--out", str(out), "--steps", "7",
            "-q"]
    assert main(args + [a for s in pairs for a in ("--set", s.replace(" ", ""))]) == 0
    return out


def test_a_short_run_goes_through_every_phase(run):
    rows = list(csv.DictReader((run / "log.csv").open()))
    for column in ("mle_step_loss", "discriminator_step_d_real", "discriminator_step_d_fake",
                   "discriminator_step_accuracy", "policy_step_reward",
                   "policy_step_sample_nll", "valid_nll", "valid_bleu", "valid_d_gap"):
        assert any(row.get(column) not in (None, "") for row in rows), column
    bleu = [float(r["valid_bleu"]) for r in rows if r.get("valid_bleu")]
    assert all(0 <= b <= 1 for b in bleu)


def test_a_run_resumed_in_the_adversarial_phase_equals_an_uninterrupted_one(run, corpus,
                                                                            tmp_path):
    half = train("seqgan", corpus, tmp_path / "resumed", settings=SETTINGS,
                 budget=Budget(steps=6), seed=0, tensorboard=False)
    assert half.step == 6
    resumed = train(None, None, tmp_path / "resumed", resume=True, budget=Budget(steps=7),
                    tensorboard=False)
    assert resumed.step == 7
    straight = load_checkpoint(run / "checkpoints" / "last.pt")["trainer"]
    again = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")["trainer"]
    for name, weight in straight["model"].items():
        assert torch.equal(weight, again["model"][name]), name
    assert torch.equal(straight["rng"], again["rng"])


def test_sample_writes_midi_that_mido_reads(run, tmp_path):
    out = tmp_path / "out"
    assert main(["sample", str(run), "-n", "2", "-o", str(out), "--length", "64tokens",
                 "--temperature", "0.9"]) == 0
    files = sorted(out.glob("*.mid"))
    assert len(files) == 2
    for path in files:
        notes = sum(1 for t in mido.MidiFile(path).tracks for m in t
                    if m.type == "note_on" and m.velocity)
        assert notes == read_midi(path).n_notes > 0
    assert isinstance(load_sampler(run), TokenSampler)
