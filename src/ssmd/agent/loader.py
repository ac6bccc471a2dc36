"""Turn signal specs (command line, ``SSMD_SIGNALS``, YAML) into validated :class:`Signal` instances.

A spec is one of:

- a built-in name, optionally with parameters: ``price_cross[threshold=0.6,direction=up]``
- a Python file or a directory of them (every ``Signal`` subclass defined there, default parameters)
- a module path, optionally naming the class: ``mypkg.signals`` or ``mypkg.signals:MySignal``
- a YAML file: ``signals: [{use: <spec>, name: <id>, params: {...}}]``

Every failure raises :class:`SignalLoadError` naming the file (or spec) and what was expected, before anything runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from pydantic import ValidationError

from ssmd.agent.builtins import BUILTINS
from ssmd.agent.signal import BUILDERS, Params, Signal
from ssmd.errors import InputError

AnySignal = Signal[Any]


class SignalLoadError(InputError):
    """A signal could not be loaded; ``str()`` names the file or spec and the reason."""


def load_signals(specs: Iterable[str], base: Path | None = None) -> list[AnySignal]:
    """Load every spec in order; signal ids must be unique."""
    signals: list[AnySignal] = []
    for spec in specs:
        signals.extend(_load_spec(spec.strip(), None, None, base or Path.cwd()))
    if not signals:
        raise SignalLoadError("no signals selected: pass --signals or set SSMD_SIGNALS")
    seen: dict[str, AnySignal] = {}
    for signal in signals:
        if signal.id in seen:
            raise SignalLoadError(f"two signals are named {signal.id!r}: give one a different name (YAML 'name:')")
        seen[signal.id] = signal
    return signals


def split_specs(text: str) -> list[str]:
    """Split ``a,b[x=1,y=2],c`` on the commas outside brackets."""
    out: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "," and depth == 0:
            out.append("".join(current))
            current = []
        else:
            current.append(char)
    out.append("".join(current))
    return [s.strip() for s in out if s.strip()]


_INLINE = re.compile(r"^(?P<name>[A-Za-z_][\w.:/-]*)\[(?P<params>.*)\]$")


def _load_spec(spec: str, name: str | None, params: Mapping[str, Any] | None, base: Path) -> list[AnySignal]:
    inline = _INLINE.match(spec)
    if inline:
        if params:
            raise SignalLoadError(f"signal {spec!r}: give parameters either inline or under 'params', not both")
        spec, params = inline["name"], _inline_params(spec, inline["params"])
    path = Path(spec) if Path(spec).is_absolute() else base / spec
    if spec.endswith((".yaml", ".yml")):
        return _load_yaml(path)
    if path.is_dir():
        files = sorted(p for p in path.glob("*.py") if not p.name.startswith("_"))
        if not files:
            raise SignalLoadError(f"{path}: directory has no signal files (*.py)")
        return [s for f in files for s in _from_module(_import_file(f), str(f), None, name, params)]
    if spec.endswith(".py") or path.is_file():
        if not path.is_file():
            raise SignalLoadError(f"{path}: signal file not found")
        return _from_module(_import_file(path), str(path), None, name, params)
    if spec in BUILTINS:
        return [_instantiate(BUILTINS[spec], f"built-in signal {spec!r}", name, params)]
    module_name, _, class_name = spec.partition(":")
    if "." in module_name or class_name:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise SignalLoadError(f"signal module {module_name!r} cannot be imported: {exc}") from None
        except SyntaxError as exc:
            raise SignalLoadError(_syntax(exc, module_name)) from None
        return _from_module(module, getattr(module, "__file__", None) or module_name, class_name or None, name, params)
    raise SignalLoadError(
        f"unknown signal {spec!r}: expected a built-in ({', '.join(sorted(BUILTINS))}), a .py file, a directory, "
        f"a module path or a .yaml file"
    )


def _inline_params(spec: str, text: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in split_specs(text):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SignalLoadError(f"signal {spec!r}: expected key=value parameters, got {item!r}")
        params[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return params


def _load_yaml(path: Path) -> list[AnySignal]:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SignalLoadError(f"{path}: signal list not found") from None
    except yaml.YAMLError as exc:
        raise SignalLoadError(f"{path}: not valid YAML: {exc}") from None
    entries = data.get("signals") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise SignalLoadError(f"{path}: expected 'signals:' with a list of {{use, name, params}} entries")
    out: list[AnySignal] = []
    for index, entry in enumerate(entries):
        where = f"{path}: signals[{index}]"
        if isinstance(entry, str):
            entry = {"use": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("use"), str):
            raise SignalLoadError(f"{where}.use: expected a signal spec string")
        unknown = set(entry) - {"use", "name", "params"}
        if unknown:
            raise SignalLoadError(f"{where}: unknown keys {sorted(unknown)} (expected use, name, params)")
        params = entry.get("params") or {}
        if not isinstance(params, dict):
            raise SignalLoadError(f"{where}.params: expected a mapping")
        name = entry.get("name")
        if name is not None and not isinstance(name, str):
            raise SignalLoadError(f"{where}.name: expected a string")
        try:
            out.extend(_load_spec(entry["use"], name, params, path.parent))
        except SignalLoadError as exc:
            raise SignalLoadError(f"{where}: {exc}") from None
    return out


def _import_file(path: Path) -> ModuleType:
    module_name = "ssmd_user_signal_" + re.sub(r"\W", "_", str(path.resolve()))
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SignalLoadError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pydantic look the module up while building classes
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[module_name]
        raise SignalLoadError(_syntax(exc, str(path))) from None
    except Exception as exc:
        del sys.modules[module_name]
        raise SignalLoadError(f"{path}: importing failed: {type(exc).__name__}: {exc}") from None
    return module


def _syntax(exc: SyntaxError, where: str) -> str:
    return f"{where}:{exc.lineno or '?'}: syntax error: {exc.msg}"


def _from_module(
    module: ModuleType, where: str, class_name: str | None, name: str | None, params: Mapping[str, Any] | None
) -> list[AnySignal]:
    if class_name:
        cls = getattr(module, class_name, None)
        if not (isinstance(cls, type) and issubclass(cls, Signal)):
            raise SignalLoadError(f"{where}: no Signal subclass named {class_name!r}")
        classes: list[type[AnySignal]] = [cls]
    else:
        classes = [
            obj for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, Signal) and obj.__module__ == module.__name__
            and not obj.__name__.startswith("_")
        ]
    if not classes:
        raise SignalLoadError(f"{where}: defines no Signal subclass (class X(Signal): ... with evaluate(state))")
    if name is not None and len(classes) > 1:
        raise SignalLoadError(f"{where}: defines {len(classes)} signals; 'name' needs exactly one (use module:Class)")
    return [_instantiate(cls, f"{where}: {cls.__name__}", name, params) for cls in classes]


def _instantiate(cls: type[AnySignal], where: str, name: str | None, params: Mapping[str, Any] | None) -> AnySignal:
    if cls.evaluate is Signal.evaluate or not callable(getattr(cls, "evaluate", None)):
        raise SignalLoadError(f"{where}: missing method evaluate(self, state) -> Fire | None")
    bad = [r for r in cls.requires if r not in BUILDERS]
    if bad or isinstance(cls.requires, str):
        raise SignalLoadError(f"{where}: requires must be a tuple of {BUILDERS}, got {cls.requires!r}")
    if not cls.requires:
        raise SignalLoadError(f"{where}: requires is empty: name the state builders it reads ({', '.join(BUILDERS)})")
    if not (isinstance(cls.Params, type) and issubclass(cls.Params, Params)):
        raise SignalLoadError(f"{where}: Params must subclass ssmd.agent.Params")
    try:
        return cls(params, name=name)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(params)'}: {err['msg']}"
            + (f" (got {err['input']!r})" if err["type"] not in ("missing",) and "input" in err else "")
            for err in exc.errors()
        )
        raise SignalLoadError(f"{where}: bad parameter: {problems}") from None
    except Exception as exc:
        raise SignalLoadError(f"{where}: could not be created: {type(exc).__name__}: {exc}") from None
