"""``deepsym plugins``: every plugin, what it registers and needs, and why any failed."""
from __future__ import annotations

import argparse
import json
from typing import Any

from deepsym.plugins import PluginInfo, PluginManager, manager


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plugins", help="list plugins: what each registers, what it needs, failures",
        description="List every plugin (built-in or from an installed package) with its "
                    "version, what it registers, the extra each model needs and whether "
                    "it is installed, and the reason of every failure.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    pm = manager()
    plugins = [describe(info, pm) for info in pm.plugins.values()]
    print(json.dumps(plugins, indent=2) if args.json else "\n".join(map(_text, plugins)))
    return 0


def describe(info: PluginInfo, pm: PluginManager) -> dict[str, Any]:
    """One plugin as plain data: origin, status and what it registered."""
    registers: dict[str, Any] = {kind: registry.names(info.name)
                                 for kind, registry in pm.registries().items()}
    registers["models"] = [_model(pm, name) for name in registers["models"]]
    return {"name": info.name, "version": info.version, "source": info.source,
            "distribution": info.distribution, "module": info.module,
            "status": "failed" if info.failed else "ok", "error": info.error,
            "registers": {kind: names for kind, names in registers.items() if names}}


def _model(pm: PluginManager, name: str) -> dict[str, Any]:
    spec = pm.models.get(name)
    missing = spec.missing()
    return {"name": name, "representation": spec.representation, "extra": spec.extra,
            "requires": list(spec.requires), "installed": not missing,
            "install": spec.install_hint if missing else None}


def _text(plugin: dict[str, Any]) -> str:
    origin = plugin["source"] + (f" {plugin['distribution']}"
                                 if plugin["source"] == "package" else "")
    lines = [f"{plugin['name']} {plugin['version']} ({origin})"]
    if plugin["error"]:
        lines.append(f"  FAILED {plugin['error']}")
    for kind, names in plugin["registers"].items():
        shown = [_model_text(n) for n in names] if kind == "models" else names
        lines.append(f"  {kind}: {', '.join(shown)}")
    if not plugin["error"] and not plugin["registers"]:
        lines.append("  registers nothing")
    return "\n".join(lines)


def _model_text(model: dict[str, Any]) -> str:
    if not model["installed"]:
        return f"{model['name']} (needs: {model['install']})"
    extra = f"extra {model['extra']}" if model["extra"] else ", ".join(model["requires"])
    return f"{model['name']} ({extra}: installed)"
