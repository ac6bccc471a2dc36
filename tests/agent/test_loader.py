"""Loading signals from specs: built-ins, files, directories, modules, YAML; broken ones are named clearly."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ssmd.agent.loader import SignalLoadError, load_signals, split_specs

GOOD = textwrap.dedent('''
    from ssmd.agent import Fire, MarketState, Params, Signal

    class AboveParams(Params):
        threshold: float = 0.6

    class Above(Signal[AboveParams]):
        name = "above"
        requires = ("prices",)
        Params = AboveParams

        def evaluate(self, state: MarketState) -> Fire | None:
            last = state.prices.last
            return self.fire(state, price=last) if last is not None and last > self.params.threshold else None
''')


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_builtin_with_inline_parameters() -> None:
    """`name[key=value,...]` selects a built-in and types its parameters (YAML scalars)."""
    [signal] = load_signals(["price_cross[threshold=0.6,direction=up]"])
    assert signal.id == "price_cross" and signal.params.threshold == 0.6 and signal.params.direction == "up"


def test_split_specs_keeps_brackets_together() -> None:
    """SSMD_SIGNALS is comma-separated, but commas inside [...] belong to one spec."""
    assert split_specs("a, b[x=1,y=2],c.py") == ["a", "b[x=1,y=2]", "c.py"]


def test_signal_file_loads_every_signal_class(tmp_path: Path) -> None:
    """A .py file yields one instance of each Signal subclass it defines, with default parameters."""
    [signal] = load_signals([str(_write(tmp_path / "above.py", GOOD))])
    assert signal.id == "above" and signal.params.threshold == 0.6


def test_directory_loads_each_file(tmp_path: Path) -> None:
    """A directory loads every non-underscore .py file in name order."""
    _write(tmp_path / "a.py", GOOD)
    _write(tmp_path / "b.py", GOOD.replace('"above"', '"above2"').replace("class Above(", "class Above2("))
    _write(tmp_path / "_helpers.py", "raise RuntimeError('must not be imported')")
    assert [s.id for s in load_signals([str(tmp_path)])] == ["above", "above2"]


def test_module_path_with_class() -> None:
    """module:Class loads one class from an importable module."""
    [signal] = load_signals(["ssmd.agent.builtins:SpreadWide[max_cents=3]"])
    assert signal.id == "spread_wide" and signal.params.max_cents == 3


def test_yaml_list_sets_names_and_params(tmp_path: Path) -> None:
    """A YAML file lists signals with a name and params each; files are relative to the YAML file."""
    _write(tmp_path / "above.py", GOOD)
    spec = _write(tmp_path / "signals.yaml", textwrap.dedent('''
        signals:
          - use: price_cross
            name: btc_60
            params: {threshold: 0.6}
          - use: above.py
            params: {threshold: 0.7}
    '''))
    signals = load_signals([str(spec)])
    assert [(s.id, s.params.threshold) for s in signals] == [("btc_60", 0.6), ("above", 0.7)]


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    """A signal file with a syntax error is rejected with its path and line number."""
    bad = _write(tmp_path / "broken.py", "from ssmd.agent import Signal\n\nclass X(Signal:\n    pass\n")
    with pytest.raises(SignalLoadError, match=r"broken\.py:3: syntax error"):
        load_signals([str(bad)])


def test_missing_evaluate_names_file_and_method(tmp_path: Path) -> None:
    """A Signal subclass without evaluate() is rejected, naming the file, class and missing method."""
    bad = _write(tmp_path / "lazy.py", "from ssmd.agent import Signal\n\nclass Lazy(Signal):\n"
                 "    name = 'lazy'\n    requires = ('prices',)\n")
    with pytest.raises(SignalLoadError, match=r"lazy\.py: Lazy: missing method evaluate"):
        load_signals([str(bad)])


def test_bad_parameter_in_yaml_names_file_entry_and_field(tmp_path: Path) -> None:
    """An invalid parameter names the YAML file, the entry, the field and the bad value."""
    spec = _write(tmp_path / "s.yaml", "signals:\n  - use: price_cross\n    params: {threshold: 1.5}\n")
    with pytest.raises(SignalLoadError) as info:
        load_signals([str(spec)])
    message = str(info.value)
    assert "s.yaml: signals[0]" in message and "threshold" in message and "1.5" in message


def test_bad_parameter_default_in_file_names_file(tmp_path: Path) -> None:
    """A signal file whose own default violates its constraints is rejected naming the file and field."""
    bad = _write(tmp_path / "odd.py", GOOD.replace("threshold: float = 0.6",
                                                   "threshold: float = Field(2.0, lt=1)").replace(
        "from ssmd.agent import", "from pydantic import Field\nfrom ssmd.agent import"))
    with pytest.raises(SignalLoadError, match=r"odd\.py: Above: bad parameter: threshold"):
        load_signals([str(bad)])


def test_unknown_requires_is_rejected(tmp_path: Path) -> None:
    """requires must name real state builders: a typo is an error, not a signal that never runs."""
    bad = _write(tmp_path / "typo.py", GOOD.replace('("prices",)', '("price",)'))
    with pytest.raises(SignalLoadError, match=r"typo\.py: Above: requires must be"):
        load_signals([str(bad)])


def test_import_error_inside_file_names_file(tmp_path: Path) -> None:
    """A file that fails while importing is reported with its path and the exception."""
    bad = _write(tmp_path / "boom.py", "import not_a_module_anywhere\n")
    with pytest.raises(SignalLoadError, match=r"boom\.py: importing failed: ModuleNotFoundError"):
        load_signals([str(bad)])


def test_unknown_spec_lists_builtins() -> None:
    """An unknown name says what was expected, including the built-in names."""
    with pytest.raises(SignalLoadError, match=r"unknown signal 'nope'.*price_cross"):
        load_signals(["nope"])


def test_duplicate_ids_rejected() -> None:
    """Two signals with one id would publish to the same subject: rejected."""
    with pytest.raises(SignalLoadError, match="two signals are named 'spread_wide'"):
        load_signals(["spread_wide[max_cents=2]", "spread_wide[max_cents=3]"])


def test_no_signals_is_an_error() -> None:
    """Starting with no signals is a configuration error, not an idle runtime."""
    with pytest.raises(SignalLoadError, match="no signals selected"):
        load_signals([])
