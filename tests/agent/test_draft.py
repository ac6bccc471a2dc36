"""`ssmd agent draft` with a fake model object (never the network): write, check, load, backtest, never deploy."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from _agent_frames import T0, trade
from click.testing import CliRunner

import ssmd.agent.draft as draft_module
from ssmd.agent.cli import agent_group
from ssmd.agent.draft import DraftError, draft_signal
from ssmd.testing import write_archive

GOOD = '''Here is the signal:
```python
from ssmd.agent import Fire, MarketState, Params, Signal


class JumpParams(Params):
    cents: float = 5.0


class Jump(Signal[JumpParams]):
    name = "jump"
    requires = ("prices",)
    Params = JumpParams

    def evaluate(self, state: MarketState) -> Fire | None:
        prev, last = state.prices.prev, state.prices.last
        if prev is None or last is None or abs(last - prev) * 100 < self.params.cents:
            return None
        return self.fire(state, jump_cents=round((last - prev) * 100, 4))
```
'''
BROKEN = "```python\nfrom ssmd.agent import Signal\nclass Jump(Signal:\n    pass\n```"


class FakeModel:
    """Stands in for anthropic.Anthropic: replies in order and records each request."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.calls: list[dict[str, Any]] = []
        self.messages = self

    def create(self, **request: Any) -> Any:
        self.calls.append(copy.deepcopy(request))  # the real SDK serialises the request when called
        return SimpleNamespace(content=[SimpleNamespace(type="text", text=self.replies.pop(0))])


def _archive(tmp_path: Path) -> Path:
    prices = [0.40, 0.41, 0.50, 0.51, 0.45]
    return write_archive(tmp_path / "data", [trade("M1", p, 1, "yes", T0 + i * 1000) for i, p in enumerate(prices)])


def test_without_api_key_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ANTHROPIC_API_KEY the command says so and exits 2 (the runtime never needs the key)."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    result = CliRunner().invoke(agent_group, ["draft", "fire on price jumps"])
    assert result.exit_code == 2
    assert "ANTHROPIC_API_KEY" in result.output


def test_draft_writes_loads_and_backtests(tmp_path: Path) -> None:
    """The model's file is written, loaded as a signal and backtested on the archive; the report asks for review."""
    model = FakeModel(GOOD)
    out = tmp_path / "jump.py"
    result = draft_signal("fire when the price jumps 5 cents", model, out=out, archive=_archive(tmp_path))
    assert out.read_text().startswith("from ssmd.agent import")
    assert (result.signals, result.attempts) == (["jump"], 1)
    assert result.summary is not None and result.summary["signals"]["jump"]["fires"] == 2  # +9c and -6c
    assert "price jumps 5 cents" in model.calls[0]["messages"][0]["content"]
    assert "class Signal" in model.calls[0]["system"]  # the model is shown the real API
    assert "review the file" in result.report()


def test_load_error_is_sent_back_and_fixed(tmp_path: Path) -> None:
    """A draft that does not load is sent back with the error; the corrected second draft is kept."""
    model = FakeModel(BROKEN, GOOD)
    result = draft_signal("jumps", model, out=tmp_path / "jump.py")
    assert result.attempts == 2 and "syntax error" in result.errors[0]
    assert "syntax error" in model.calls[1]["messages"][-1]["content"]


def test_disallowed_import_is_refused_before_running(tmp_path: Path) -> None:
    """A draft importing outside the allow-list is refused without being executed or written."""
    marker = tmp_path / "ran"
    evil = f"```python\nimport pathlib\npathlib.Path({str(marker)!r}).write_text('x')\n```"
    with pytest.raises(DraftError, match="import of 'pathlib' is not allowed"):
        draft_signal("anything", FakeModel(evil), out=tmp_path / "evil.py", max_attempts=1)
    assert not marker.exists() and not (tmp_path / "evil.py").exists()


def test_cli_draft_with_injected_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ssmd agent draft` prints where the draft is and its backtest; it does not deploy anything."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key-not-used")
    monkeypatch.setattr(draft_module, "anthropic_client", lambda: FakeModel(GOOD))
    out = tmp_path / "jump.py"
    result = CliRunner().invoke(agent_group, ["draft", "price jumps", "--out", str(out), "--archive",
                                              str(_archive(tmp_path))])
    assert result.exit_code == 0, result.output
    assert f"draft written to {out}" in result.output and "jump" in result.output
    assert f"ssmd-agent --signals {out}" in result.output
    assert "test-key-not-used" not in result.output
