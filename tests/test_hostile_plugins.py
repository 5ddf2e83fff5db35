"""Plugins that misbehave in every way a plugin can: ``sys.exit`` at import or in a hook,
a hook that fails only on a later call, a hook that fails on every call. Each fails only
itself; every command keeps working, ``deepsym plugins`` gives the reason, strict mode
raises and Ctrl-C still interrupts."""
from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from registered_plugins import registered

import deepsym
from deepsym.cli import main
from deepsym.errors import PluginError
from deepsym.hookspecs import hookimpl
from deepsym.plugins import PluginManager, manager
from deepsym.score import Score, Track

EXITS_AT_IMPORT = 'import sys\nsys.exit("hostile plugin refuses to load")\n'
WARNING = "deepsym: warning: plugin {name!r} skipped ({error}); see 'deepsym plugins'\n"


def install(site: Path, module_source: str) -> Path:
    """An installed distribution ``hostile`` 0.1 in folder ``site`` whose ``deepsym.plugins``
    entry point ``hostile`` is a module with ``module_source``."""
    dist = site / "hostile-0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "hostile_plugin.py").write_text(module_source)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hostile\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[deepsym.plugins]\nhostile = hostile_plugin\n")
    return site


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A plugin package that calls ``sys.exit`` at import, installed on ``sys.path``; the
    process's plugin manager is reloaded with it, and without it afterwards."""
    for variable in ("DEEPSYM_LOAD_PLUGINS", "DEEPSYM_STRICT_PLUGINS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.syspath_prepend(str(install(tmp_path / "site", EXITS_AT_IMPORT)))
    manager.cache_clear()
    try:
        yield tmp_path / "site"
    finally:
        sys.modules.pop("hostile_plugin", None)
        manager.cache_clear()


@pytest.fixture
def midi(tmp_path: Path) -> Path:
    path = tmp_path / "tune.mid"
    deepsym.write_midi(Score(tracks=[Track(notes=[(0, 480, 60, 64), (480, 480, 67, 64)])]),
                       path)
    return path


class ExitsInAHook:
    """``sys.exit`` on every call of register_metrics, after registering one metric."""

    @hookimpl
    def register_metrics(self, register):
        register(len, "hostile_length")
        sys.exit(3)

    @hookimpl
    def register_commands(self, cli):
        cli.add_parser("hostile-exit", help="never added")


class FailsOnItsSecondCall:
    """register_commands adds its command, then raises from its second call on."""

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def register_commands(self, cli):
        self.calls += 1
        cli.add_parser("hostile-later", help="added once, then half-added and failing")
        if self.calls > 1:
            raise RuntimeError(f"call {self.calls} went wrong")


class FailsEveryMetricsCall:
    """A working command, and a register_metrics that raises on every call."""

    @hookimpl
    def register_metrics(self, register):
        raise ValueError("metric table corrupt")

    @hookimpl
    def register_commands(self, cli):
        cli.add_parser("hostile-metrics", help="goes with the metrics")


class Interrupted:
    @hookimpl
    def register_metrics(self, register):
        raise KeyboardInterrupt


def plugin_listing(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["plugins"]) == 0
    return capsys.readouterr().out


# -- sys.exit --------------------------------------------------------------------------


def test_sys_exit_at_import_fails_only_that_plugin(installed, midi, capsys):
    error = "import failed: SystemExit: hostile plugin refuses to load"
    for _ in range(2):
        assert main(["info", str(midi)]) == 0
        captured = capsys.readouterr()
        assert captured.err == WARNING.format(name="hostile", error=error)
        assert str(midi) in captured.out
    assert f"hostile 0.1 (package hostile)\n  FAILED {error}\n" in plugin_listing(capsys)
    assert not manager().plugins["core"].failed and manager().metrics.names("core")


def test_sys_exit_at_import_does_not_stop_the_console_script(installed, midi):
    result = subprocess.run([sys.executable, "-m", "deepsym", "info", str(midi)],
                            capture_output=True, text=True, check=False,
                            env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert str(midi) in result.stdout
    assert result.stderr == WARNING.format(
        name="hostile", error="import failed: SystemExit: hostile plugin refuses to load")


def test_sys_exit_inside_a_hook_fails_only_that_plugin(midi, capsys):
    with registered(ExitsInAHook(), "exits") as pm:
        assert pm.plugins["exits"].error == "registering failed: SystemExit: 3"
        assert "hostile_length" not in pm.metrics and "hostile-exit" not in pm.commands
        assert main(["metrics", str(midi)]) == 0
        captured = capsys.readouterr()
        assert captured.err == WARNING.format(name="exits",
                                              error="registering failed: SystemExit: 3")
        assert captured.out.startswith("file ")
        assert "exits - (local)\n  FAILED registering failed: SystemExit: 3" \
            in plugin_listing(capsys)


# -- failures of later calls ------------------------------------------------------------


def test_register_commands_failing_on_its_second_call_fails_only_that_plugin(midi, capsys):
    error = "registering failed: RuntimeError: call 2 went wrong"
    with registered(FailsOnItsSecondCall(), "later") as pm:
        assert "hostile-later" in pm.commands  # the first call, at load, went well
        for _ in range(2):  # every parser the CLI builds calls the hook again
            assert main(["info", str(midi)]) == 0
            assert capsys.readouterr().err == WARNING.format(name="later", error=error)
        assert pm.plugins["later"].error == error and "hostile-later" not in pm.commands
        with pytest.raises(SystemExit):
            main(["--help"])
        help_text = capsys.readouterr().out
        assert "hostile-later" not in help_text and "corpus" in help_text
        assert f"later - (local)\n  FAILED {error}" in plugin_listing(capsys)


def test_a_failed_call_takes_its_half_added_commands_out_of_the_parser():
    with registered(FailsOnItsSecondCall(), "later") as pm:
        subparsers = argparse.ArgumentParser().add_subparsers()
        subparsers.add_parser("info", help="a core command")
        pm.add_commands(subparsers)
        assert list(subparsers.choices) == ["info"]
        assert [action.dest for action in subparsers._choices_actions] == ["info"]
        assert pm.plugins["later"].failed


def test_a_hook_failing_on_every_call_leaves_deepsym_metrics_working(midi, capsys):
    error = "registering failed: ValueError: metric table corrupt"
    with registered(FailsEveryMetricsCall(), "every") as pm:
        assert pm.plugins["every"].error == error and "hostile-metrics" not in pm.commands
        assert main(["metrics", str(midi), "--json"]) == 0
        captured = capsys.readouterr()
        assert captured.err == WARNING.format(name="every", error=error)
        assert '"file": "' in captured.out
        assert f"every - (local)\n  FAILED {error}" in plugin_listing(capsys)


# -- strict mode and Ctrl-C -------------------------------------------------------------


def test_strict_mode_raises_sys_exit_at_import_as_a_plugin_error(installed, monkeypatch):
    monkeypatch.setenv("DEEPSYM_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="plugin 'hostile': import failed: SystemExit: "
                                          "hostile plugin refuses to load"):
        manager()


@pytest.mark.parametrize("debug", [False, True], ids=["one line", "--debug"])
def test_strict_mode_on_the_command_line_is_one_error_line(debug, installed, midi):
    result = subprocess.run(
        [sys.executable, "-m", "deepsym", *(["--debug"] if debug else []), "info", str(midi)],
        capture_output=True, text=True, check=False,
        env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin",
             "DEEPSYM_STRICT_PLUGINS": "1"})
    error = "plugin 'hostile': import failed: SystemExit: hostile plugin refuses to load"
    assert (result.returncode, result.stdout) == (1, "")
    if debug:
        assert "Traceback" in result.stderr and f"PluginError: {error}" in result.stderr
    else:
        assert result.stderr == f"deepsym: error: {error}\n"


def test_strict_mode_raises_failures_of_later_calls():
    strict = PluginManager(strict=True)
    strict.register(FailsOnItsSecondCall(), "later")
    subparsers = argparse.ArgumentParser().add_subparsers()
    with pytest.raises(PluginError, match="plugin 'later': registering failed: RuntimeError: "
                                          "call 2 went wrong"):
        strict.add_commands(subparsers)
    assert not subparsers.choices
    with pytest.raises(PluginError, match="plugin 'exits': registering failed: SystemExit: 3"):
        strict.register(ExitsInAHook(), "exits")


def test_ctrl_c_in_a_plugin_still_interrupts():
    with pytest.raises(KeyboardInterrupt):
        PluginManager().register(Interrupted(), "interrupted")
