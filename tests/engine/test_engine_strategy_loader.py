"""User strategy files run only when the configuration names them, and only from inside the
strategy directory: the real CLI in a subprocess, real files on disk."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kraken_tui.engine.strategy_loader import StrategyLoadError, resolve_strategy_class

RunCli = Callable[..., subprocess.CompletedProcess[str]]


def marking_strategy(marker: Path, class_name: str = "Quiet") -> str:
    """Source of a do-nothing strategy file that proves it ran by creating `marker`."""
    return (
        "from pathlib import Path\n"
        "from kraken_tui.strategies import BaseStrategy\n\n"
        f"Path({str(marker)!r}).write_text('imported')\n\n"
        f"class {class_name}(BaseStrategy):\n"
        "    pass\n"
    )


def strategy_config(path: Path, name: str, class_spec: str) -> Path:
    path.write_text(
        f'[[strategies]]\nname = "{name}"\nclass = "{class_spec}"\nsymbol = "BTC/USD"\n'
    )
    return path


@pytest.fixture
def strategy_dir(tmp_path: Path) -> Path:
    """`strategies/` where the CLI runs (the default `strategy_dir`): `named.py`, which the
    configuration uses, beside `boom.py`, which nothing names."""
    directory = tmp_path / "strategies"
    directory.mkdir()
    (directory / "named.py").write_text(marking_strategy(tmp_path / "named-ran"))
    (directory / "boom.py").write_text(marking_strategy(tmp_path / "boom-ran"))
    strategy_config(tmp_path / "config.toml", "named", "named.py:Quiet")
    return directory


def test_config_check_imports_the_named_file_and_never_an_unnamed_one(
    run_cli: RunCli, strategy_dir: Path, tmp_path: Path
) -> None:
    result = run_cli("--config", "config.toml", "config", "check")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "named-ran").exists()
    assert not (tmp_path / "boom-ran").exists()


def test_headless_run_imports_the_named_file_and_never_an_unnamed_one(
    run_cli: RunCli, strategy_dir: Path, tmp_path: Path
) -> None:
    result = run_cli("--config", "config.toml", "--no-ui", "--duration", "0.5")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "named-ran").exists()
    assert not (tmp_path / "boom-ran").exists()


def test_config_check_refuses_a_file_outside_the_strategy_directory_naming_the_strategy(
    run_cli: RunCli, strategy_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "evil.py").write_text(marking_strategy(tmp_path / "evil-ran", "Evil"))
    strategy_config(tmp_path / "escape.toml", "escape", "../evil.py:Evil")
    result = run_cli("--config", "escape.toml", "config", "check")
    assert result.returncode == 2
    assert "strategy 'escape': strategy file ../evil.py resolves to" in result.stderr
    assert "outside the strategy directory" in result.stderr
    assert "configuration is valid" not in result.stderr
    assert not (tmp_path / "evil-ran").exists()


def test_an_absolute_strategy_file_is_refused_without_being_imported(tmp_path: Path) -> None:
    directory = tmp_path / "strategies"
    directory.mkdir()
    inside = directory / "abs.py"
    inside.write_text(marking_strategy(tmp_path / "abs-ran", "Abs"))
    with pytest.raises(StrategyLoadError, match="is an absolute path"):
        resolve_strategy_class(f"{inside}:Abs", directory)
    assert not (tmp_path / "abs-ran").exists()


def test_a_symlink_escaping_the_strategy_directory_is_refused_without_being_imported(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "strategies"
    directory.mkdir()
    outside = tmp_path / "elsewhere.py"
    outside.write_text(marking_strategy(tmp_path / "link-ran", "Linked"))
    (directory / "linked.py").symlink_to(outside)
    with pytest.raises(StrategyLoadError, match="outside the strategy directory"):
        resolve_strategy_class("linked.py:Linked", directory)
    assert not (tmp_path / "link-ran").exists()


def test_a_symlink_staying_inside_the_strategy_directory_loads(tmp_path: Path) -> None:
    directory = tmp_path / "strategies"
    (directory / "shared").mkdir(parents=True)
    (directory / "shared" / "real.py").write_text(marking_strategy(tmp_path / "real-ran"))
    (directory / "alias.py").symlink_to(directory / "shared" / "real.py")
    assert resolve_strategy_class("alias.py:Quiet", directory).__name__ == "Quiet"
    assert (tmp_path / "real-ran").exists()


def test_a_name_registered_by_a_user_file_is_not_a_class_the_configuration_can_use(
    tmp_path: Path,
) -> None:
    """Otherwise `class = "user_named"` would resolve only after another strategy had named
    the file, and the outcome would depend on the order of the configuration."""
    (tmp_path / "registers.py").write_text(
        "from kraken_tui.strategies import BaseStrategy, register_strategy\n\n"
        '@register_strategy("test_loader_user_named")\n'
        "class Registered(BaseStrategy):\n"
        "    pass\n"
    )
    assert resolve_strategy_class("registers.py:Registered", tmp_path).__name__ == "Registered"
    with pytest.raises(StrategyLoadError, match=r"named as file\.py:Class"):
        resolve_strategy_class("test_loader_user_named", tmp_path)
