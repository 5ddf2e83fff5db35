"""The example plugin as a user meets it: installed with pip into a fresh virtual
environment, found through its entry point, used end to end; and broken plugins
installed beside it, shown as failed while everything else keeps working.

The example's code is also tested in-process (its representation on real folk tunes,
its sampler's controls changed mid-stream).
"""
from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import textwrap
import venv
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from music21_corpus import real_midi_files

from deepsym import read_midi
from deepsym.modeling import from_json, to_dict
from deepsym.plugins import PluginManager, manager
from deepsym.sampling import Controls

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "deepsym-plugin-example"
BROKEN = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "deepsym-broken-plugins"
        version = "0.0.1"

        [project.entry-points."deepsym.plugins"]
        missing-dependency = "deepsym_broken.missing"
        raises = "deepsym_broken.raises"
        """,
    "deepsym_broken/__init__.py": "",
    "deepsym_broken/missing.py": "import a_package_nobody_installed  # noqa: F401\n",
    "deepsym_broken/raises.py": """
        from deepsym.hookspecs import hookimpl

        def steps(score):
            return 0.0

        @hookimpl
        def register_metrics(register):
            register(steps, "broken_steps")
            raise RuntimeError("metric table corrupt")
        """,
}


def folk_tunes(n: int) -> list[Path]:
    return [p for p in real_midi_files() if p.name.startswith("folk")][:n]


# -- in-process: the example's code ---------------------------------------------------------


@pytest.fixture(scope="module")
def example() -> Iterator[PluginManager]:
    """The example plugin registered from its source folder (not installed)."""
    sys.path.insert(0, str(EXAMPLE / "src"))
    import deepsym_example.plugin

    pm = manager()
    pm.register(deepsym_example.plugin, "example")
    try:
        yield pm
    finally:
        pm.unregister("example")
        sys.path.remove(str(EXAMPLE / "src"))


def test_deepsym_train_runs_the_example_model(example, tmp_path):
    """The engine behind ``deepsym train`` drives a third-party trainer unchanged."""
    from deepsym.data import build_corpus
    from deepsym.training.engine import Budget, train

    for tune in folk_tunes(24):
        shutil.copy(tune, tmp_path / tune.name)
    build_corpus([tmp_path], tmp_path / "corpus")
    result = train("tiny-melody", tmp_path / "corpus", tmp_path / "run", budget=Budget(steps=30),
                   settings={"batch_size": 4}, tensorboard=False)
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert result.step == 30 and len(rows) > 2
    assert (tmp_path / "run" / "checkpoints" / "last.pt").exists()


@pytest.mark.parametrize("index", range(12), ids=lambda i: f"folk-{i:03d}")
def test_melody_tokens_round_trip_real_tunes(example, index):
    from deepsym_example.melody import FIRST_PITCH, HOLD, REST, top_line

    rep = example.representations.get("melody-tokens")()
    score = read_midi(folk_tunes(12)[index])
    tokens = rep.encode(score)
    assert tokens.dtype == np.int64 and tokens.max() < rep.spec.vocab_size
    assert np.array_equal(rep.encode(rep.decode(tokens)), tokens)
    melody = rep.decode(tokens).tracks[0].notes
    assert np.array_equal(melody["pitch"], top_line(score)["pitch"])  # one-voice tunes
    assert np.all(tokens[np.flatnonzero(tokens == HOLD) - 1] != REST)
    assert len(melody) == int((tokens >= FIRST_PITCH).sum())


def test_conjunct_motion_definition(example):
    from deepsym_example.melody import from_melody_tokens

    metric = example.metrics.get("conjunct_motion")
    # C4 D4 (step) A4 (leap) B4 (step): 2 of 3 intervals are steps
    tune = from_melody_tokens(np.array([62, 1, 64, 71, 1, 1, 73]))
    assert metric(tune) == pytest.approx(2 / 3)
    assert np.isnan(metric(from_melody_tokens(np.array([62, 1, 1]))))


def test_every_registered_model_config_survives_save_then_load(example):
    checked = []
    for name in example.models:
        spec = example.models.get(name)
        if not spec.missing():
            cls = spec.config_class()
            assert from_json(cls, json.dumps(to_dict(cls()))) == cls(), name
            checked.append(name)
    assert "tiny-melody" in checked


def test_sampler_reads_controls_at_every_step(example):
    spec = example.models.get("tiny-melody")
    rep = example.representations.get(spec.representation)()
    torch.manual_seed(0)
    model = spec.build()
    sampler = spec.sampler_class()(model, rep, Controls(temperature=5.0), seed=3)
    stream = sampler.stream(40)
    hot = [next(stream) for _ in range(20)]
    sampler.controls.temperature = 0  # from now on: always the most likely token
    cold = list(stream)
    tokens = torch.tensor([[0, *hot, *cold]])
    with torch.no_grad():
        logits, _ = model(tokens)
    likeliest = logits[0].argmax(dim=-1)
    assert cold == likeliest[20:40].tolist()
    assert hot != likeliest[:20].tolist()  # the hot part was not greedy


# -- installed: the real plugin path ---------------------------------------------------


def make_venv(path: Path) -> Path:
    """A virtual environment that sees this interpreter's packages (deepsym, torch, pip).

    A ``.pth`` file adds this interpreter's site directories, processing their own
    ``.pth`` files (editable installs); ``system_site_packages`` would add the base
    interpreter's instead, which lack deepsym when this one is a virtual environment.
    """
    venv.EnvBuilder(with_pip=False).create(path)
    python = path / "bin" / "python"
    user = [site.getusersitepackages()] if site.ENABLE_USER_SITE else []
    ours = [d for d in [*site.getsitepackages(), *user] if os.path.isdir(d)]
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    theirs = subprocess.run([str(python), "-c", where], check=True, capture_output=True,
                            text=True).stdout.strip()
    Path(theirs, "parent-site-packages.pth").write_text(
        "".join(f"import site; site.addsitedir({d!r})\n" for d in ours))
    return python


def pip_install(python: Path, source: Path, into: Path) -> None:
    """Install a copy of ``source`` (so no build files land in the repository)."""
    copy = into / source.name
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "--no-input", "-q", str(copy)],
                   check=True, capture_output=True, text=True)


def run(python: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSYM_")}
    return subprocess.run([str(python), *args], capture_output=True, text=True, check=False,
                          cwd="/", env={**environ, **env})


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv with the example plugin pip-installed: its python."""
    root = tmp_path_factory.mktemp("example-venv")
    python = make_venv(root / "venv")
    pip_install(python, EXAMPLE, root)
    return python


@pytest.fixture(scope="module")
def installed_with_broken(tmp_path_factory) -> Path:
    """A venv with the example plugin and a package of broken plugins: its python."""
    root = tmp_path_factory.mktemp("broken-venv")
    python = make_venv(root / "venv")
    pip_install(python, EXAMPLE, root)
    broken = root / "src" / "deepsym-broken-plugins"
    for name, text in BROKEN.items():
        (broken / name).parent.mkdir(parents=True, exist_ok=True)
        (broken / name).write_text(textwrap.dedent(text))
    pip_install(python, broken, root)
    return python


def test_installed_example_is_listed_by_deepsym_plugins(installed):
    result = run(installed, "-m", "deepsym", "plugins")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "core 0.1.0 (built-in)" in result.stdout
    assert ("example 0.1.0 (package deepsym-plugin-example)\n"
            "  models: tiny-melody (extra torch: installed)\n"
            "  representations: melody-tokens\n"
            "  metrics: conjunct_motion\n"
            "  refiners: example-quantize\n"
            "  commands: example-melody") in result.stdout
    listed = json.loads(run(installed, "-m", "deepsym", "plugins", "--json").stdout)
    assert listed[-1]["name"] == "example" and listed[-1]["source"] == "package"
    assert {p["source"] for p in listed[:-1]} == {"built-in"}  # built-ins load first
    assert listed[-1]["module"] == "deepsym_example.plugin"


def test_installed_example_command_is_in_help_and_runs(installed):
    assert "example-melody" in run(installed, "-m", "deepsym", "--help").stdout
    tune = folk_tunes(1)[0]
    result = run(installed, "-m", "deepsym", "example-melody", str(tune))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{tune}: ") and "conjunct motion 0." in result.stdout


END_TO_END = """
import sys
import torch
from deepsym import read_midi, write_midi
from deepsym.plugins import manager
from deepsym.sampling import Controls
from deepsym_example.train import token_windows

pm = manager()
spec = pm.models.get("tiny-melody")
rep = pm.representations.get(spec.representation)()
pieces = [rep.encode(read_midi(p)) for p in sys.argv[2:]]
config = spec.config_class()(steps=40)
torch.manual_seed(0)  # the weights' first draw: the run is the same every time
torch.set_num_threads(1)
model = spec.build(config)
trainer = spec.trainer_class()(model, config, seed=0)
losses = []
trainer.fit(token_windows(pieces, config, batches=10), on_update=lambda u: losses.append(u.loss))
sampler = spec.sampler_class()(model, rep, Controls(top_k=8), seed=0)
scores = sampler.sample(2, steps=64)
for i, score in enumerate(scores):
    write_midi(score, f"{sys.argv[1]}/sample-{i}.mid")
print(len(losses), sum(losses[:5]) / 5, sum(losses[-5:]) / 5)
print(pm.metrics.get("conjunct_motion")(scores[0]))
"""


def test_installed_example_refiner_quantizes_through_deepsym_refine(installed, tmp_path):
    """A third-party refiner that learns nothing, by name: every note on the sixteenth
    grid, pitches and their order unchanged (deepsym.refining checks it too)."""
    tune = folk_tunes(1)[0]
    out = tmp_path / "quantized.mid"
    result = run(installed, "-m", "deepsym", "refine", str(tune), "--with",
                 "example-quantize", "-o", str(out))
    assert result.returncode == 0, result.stderr
    before, after = read_midi(tune), read_midi(out)
    step = after.ticks_per_beat // 4
    for old, new in zip(before.tracks, after.tracks, strict=True):
        assert np.array_equal(old.notes["pitch"], new.notes["pitch"])
        assert (new.notes["start"] % step == 0).all() and (new.notes["duration"] >= step).all()


def test_installed_example_trains_and_samples_end_to_end(installed, tmp_path):
    tunes = folk_tunes(20)
    result = run(installed, "-c", END_TO_END, str(tmp_path), *map(str, tunes))
    assert result.returncode == 0, result.stderr
    counts, conjunct = result.stdout.splitlines()
    updates, first, last = counts.split()
    assert int(updates) == 40 and float(last) < 0.6 * float(first)  # it learned
    pitches = np.concatenate([t.notes["pitch"] for p in tunes for t in read_midi(p).tracks])
    for i in range(2):
        notes = read_midi(tmp_path / f"sample-{i}.mid").tracks[0].notes
        assert len(notes) > 0
        assert pitches.min() <= notes["pitch"].min() <= notes["pitch"].max() <= pitches.max()
    assert 0 <= float(conjunct) <= 1


def test_broken_plugins_are_listed_as_failed_and_nothing_else_breaks(installed_with_broken):
    python = installed_with_broken
    result = run(python, "-m", "deepsym", "plugins")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert ("missing-dependency 0.0.1 (package deepsym-broken-plugins)\n"
            "  FAILED import failed: ModuleNotFoundError: "
            "No module named 'a_package_nobody_installed'") in out
    assert ("raises 0.0.1 (package deepsym-broken-plugins)\n"
            "  FAILED registering failed: RuntimeError: metric table corrupt") in out
    assert "broken_steps" not in out
    assert "core 0.1.0 (built-in)" in out and "  models: tiny-melody" in out

    tune = str(folk_tunes(1)[0])
    for command in (["info", tune], ["example-melody", tune]):
        other = run(python, "-m", "deepsym", *command)
        assert other.returncode == 0 and tune in other.stdout
        assert other.stderr.splitlines() == [
            "deepsym: warning: plugin 'missing-dependency' skipped (import failed: "
            "ModuleNotFoundError: No module named 'a_package_nobody_installed'); "
            "see 'deepsym plugins'",
            "deepsym: warning: plugin 'raises' skipped (registering failed: RuntimeError: "
            "metric table corrupt); see 'deepsym plugins'"]


def test_strict_mode_and_allowlist_on_installed_plugins(installed_with_broken):
    python = installed_with_broken
    strict = run(python, "-m", "deepsym", "plugins", DEEPSYM_STRICT_PLUGINS="1")
    assert strict.returncode == 1 and strict.stderr.count("\n") == 1  # one line, no traceback
    assert strict.stderr.startswith("deepsym: error: plugin 'missing-dependency': import failed")
    allowed = run(python, "-m", "deepsym", "plugins", DEEPSYM_STRICT_PLUGINS="1",
                  DEEPSYM_LOAD_PLUGINS="deepsym-plugin-example")
    assert allowed.returncode == 0, allowed.stderr
    assert "example 0.1.0" in allowed.stdout and "FAILED" not in allowed.stdout
    by_entry_point = run(python, "-m", "deepsym", "plugins", DEEPSYM_LOAD_PLUGINS="raises")
    assert "raises 0.0.1" in by_entry_point.stdout
    assert "example" not in by_entry_point.stdout
