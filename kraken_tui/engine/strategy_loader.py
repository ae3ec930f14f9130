"""Finding strategy classes: built-ins by registry name, user code from the strategy directory.

A configured class is one of
- a registry name (`sma_cross`), registered by a built-in or installed module;
- `file.py:Class`, a file inside the configured strategy directory;
- `package.module:Class`, anything importable.

Importing a Python file runs it, so a user file runs only when the configuration names it:
whatever else lies in the strategy directory (a stray download, a half-written file) is never
executed, not even by `config check`. A named file must resolve, symlinks followed, to a path
inside the strategy directory, so a configuration cannot reach `../` or an absolute path.
A registry name that a user file registered is not accepted as a class: it would resolve only
after some other strategy had named that file, so the result would depend on the order of the
configuration.

User files are imported under the `kraken_tui_user_strategies.` prefix so that two directories
cannot shadow each other's modules or ours. A failing user file is reported as the error of the
strategy that names it, never raised past the loader: one broken file must not stop the engine
or other strategies.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from kraken_tui.strategies import (
    BaseStrategy,
    StrategyConfigError,
    load_builtin_strategies,
    strategy_registry,
)

USER_MODULE_PREFIX = "kraken_tui_user_strategies"


class StrategyLoadError(Exception):
    """The configured strategy class cannot be found or is not a strategy."""


def resolve_strategy_class(spec: str, strategy_dir: Path) -> type[BaseStrategy]:
    """The class a config's `class` names; raises StrategyLoadError saying what went wrong."""
    load_builtin_strategies()
    registered = _configurable_registry().get(spec)
    if registered is not None:
        return registered
    location, separator, class_name = spec.rpartition(":")
    if not separator:
        known = ", ".join(sorted(_configurable_registry())) or "none"
        raise StrategyLoadError(
            f"no strategy registered as {spec!r} (registered: {known}); "
            "a file in the strategy directory is named as file.py:Class"
        )
    if location.endswith(".py"):
        module = _load_or_raise(_strategy_file(location, strategy_dir))
    else:
        try:
            module = importlib.import_module(location)
        except Exception as exc:
            raise StrategyLoadError(f"cannot import {location}: {_describe(exc)}") from exc
    cls = getattr(module, class_name, None)
    if cls is None:
        raise StrategyLoadError(f"{location} has no class {class_name}")
    if not (isinstance(cls, type) and issubclass(cls, BaseStrategy)):
        raise StrategyLoadError(f"{location}:{class_name} is not a BaseStrategy subclass")
    return cls


def strategy_config_errors(
    configs: Iterable[tuple[str, str, Mapping[str, Any]]], strategy_dir: Path
) -> list[str]:
    """What would stop each (name, class, params) from loading, checked without starting
    anything: the class must resolve and the parameters pass its own model. `config check`
    reports these; the engine, meeting them at start, shows the strategy in `error`."""
    errors: list[str] = []
    for name, spec, params in configs:
        try:
            cls = resolve_strategy_class(spec, strategy_dir)
        except StrategyLoadError as exc:
            errors.append(f"strategy {name!r}: {exc}")
            continue
        try:
            cls.parse_params(params, name)
        except StrategyConfigError as exc:
            errors.append(str(exc))  # names the strategy and the field already
    return errors


def _configurable_registry() -> dict[str, type[BaseStrategy]]:
    return {
        name: cls
        for name, cls in strategy_registry().items()
        if not cls.__module__.startswith(f"{USER_MODULE_PREFIX}.")
    }


def _strategy_file(location: str, strategy_dir: Path) -> Path:
    """The real path of `location` (a configured `file.py`), refused unless it lies inside the
    strategy directory once every symlink is resolved: the configuration names files there, not
    anywhere on disk."""
    root = strategy_dir.resolve()
    if Path(location).is_absolute():
        raise StrategyLoadError(
            f"strategy file {location} is an absolute path; name a file inside the strategy "
            f"directory {root} relative to it"
        )
    path = (root / location).resolve()
    if not path.is_relative_to(root):
        raise StrategyLoadError(
            f"strategy file {location} resolves to {path}, outside the strategy directory "
            f"{root}; only files inside it are loaded"
        )
    if not path.is_file():
        raise StrategyLoadError(f"strategy file {strategy_dir / location} does not exist")
    return path


def _load_or_raise(path: Path) -> ModuleType:
    try:
        return _import_file(path)
    except Exception as exc:
        raise StrategyLoadError(f"cannot load {path}: {_describe(exc)}") from exc


def _import_file(path: Path) -> ModuleType:
    name = f"{USER_MODULE_PREFIX}.{path.stem}"
    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__file__", None) == str(path):
        return existing
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _describe(exc: BaseException) -> str:
    """The exception and the innermost frame, enough to find the line without a full dump."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f" ({exc.filename}:{exc.lineno})"
    return f"{type(exc).__name__}: {exc}{where}"
