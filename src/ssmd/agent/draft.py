"""``ssmd agent draft``: Claude writes a signal file; we check it, load it, backtest it and show the result.

The Anthropic SDK is used directly rather than LangGraph: drafting is one request plus at most a couple of
"it failed to load: <error>, fix it" follow-ups, a loop of ten lines; a graph runtime would add a dependency tree
and nothing this needs. The draft is never deployed: the user reviews the file and passes it to ``ssmd-agent``.
Before the file is imported (which runs it) its imports are checked against a small allow-list.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssmd.agent import builtins, signal, state
from ssmd.agent.loader import SignalLoadError, load_signals

DEFAULT_MODEL = "claude-sonnet-4-5"
MAX_ATTEMPTS = 3
ALLOWED_IMPORTS = frozenset({
    "__future__", "ssmd.agent", "ssmd.agent.signal", "ssmd.agent.state", "typing", "math", "statistics",
    "collections", "dataclasses", "pydantic",
})


class DraftError(Exception):
    """Drafting failed (no SDK, the model never produced a loadable file, ...)."""


@dataclass
class DraftResult:
    path: Path
    signals: list[str]
    attempts: int
    summary: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)

    def report(self) -> str:
        lines = [f"draft written to {self.path} after {self.attempts} attempt(s); signals: {', '.join(self.signals)}"]
        lines += [f"  attempt failed: {e}" for e in self.errors]
        if self.summary is not None:
            from ssmd.agent.backtest import format_summary

            lines += ["backtest:", format_summary(self.summary)]
        lines.append(f"review the file, then deploy it yourself: ssmd-agent --signals {self.path}")
        return "\n".join(lines)


def anthropic_client() -> Any:
    try:
        import anthropic
    except ImportError:
        raise DraftError("the anthropic SDK is not installed: pip install 'ssmd[llm]'") from None
    return anthropic.Anthropic()


def system_prompt() -> str:
    """The API a signal may use, shown as source so the model writes against what exists."""
    return (
        "You write one Python file defining trading signals for ssmd-agent. Reply with the full file in one "
        "```python block and nothing else. Rules: subclass ssmd.agent.Signal[YourParams] with class attributes "
        "name, requires (tuple of state builders), Params (a subclass of ssmd.agent.Params with defaults for every "
        "field); implement evaluate(self, state) returning self.fire(state, **values) or None. Use only "
        "state.ts_ms (exchange time) for windows, never the wall clock. Prices are floats in dollars. Allowed "
        f"imports: {', '.join(sorted(ALLOWED_IMPORTS))}.\n\n"
        f"# ssmd/agent/signal.py\n{inspect.getsource(signal)}\n\n# ssmd/agent/state.py\n{inspect.getsource(state)}"
        f"\n\n# examples: ssmd/agent/builtins.py\n{inspect.getsource(builtins)}"
    )


def draft_signal(
    description: str,
    client: Any,
    *,
    out: Path | None = None,
    archive: Path | None = None,
    model: str = DEFAULT_MODEL,
    max_attempts: int = MAX_ATTEMPTS,
) -> DraftResult:
    """Ask ``client`` (an ``anthropic.Anthropic`` or anything with ``.messages.create``) for a signal file."""
    path = out or Path("signals") / f"draft_{_slug(description)}.py"
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"Write a signal that: {description}"}]
    errors: list[str] = []
    system = system_prompt()
    for attempt in range(1, max_attempts + 1):
        response = client.messages.create(model=model, max_tokens=4096, system=system, messages=messages)
        text = "".join(getattr(block, "text", "") for block in response.content)
        messages.append({"role": "assistant", "content": text})
        try:
            code = extract_code(text)
            check_imports(code, path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code)
            loaded = load_signals([str(path)])
        except (SignalLoadError, DraftError) as exc:
            errors.append(str(exc))
            messages.append({"role": "user", "content": f"That file failed: {exc}\nReply with the corrected file."})
            continue
        summary = None
        if archive is not None:
            from ssmd.agent.backtest import archive_frames, run_backtest

            summary = run_backtest(archive_frames(archive), loaded).summary()
        return DraftResult(path, [s.id for s in loaded], attempt, summary, errors)
    raise DraftError(f"no loadable signal after {max_attempts} attempts; last error: {errors[-1]}")


def extract_code(text: str) -> str:
    blocks: list[str] = re.findall(r"```(?:python|py)?\s*\n(.*?)```", text, flags=re.DOTALL)
    if not blocks:
        raise DraftError("the reply had no ```python code block")
    return max(blocks, key=len).strip() + "\n"


def check_imports(code: str, path: Path) -> None:
    """Refuse, before running anything, a draft that imports outside the allow-list."""
    try:
        tree = ast.parse(code, filename=str(path))
    except SyntaxError as exc:
        raise DraftError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        for name in names:
            if name not in ALLOWED_IMPORTS and name.split(".")[0] not in {"typing", "collections", "pydantic"}:
                raise DraftError(f"{path}: import of {name!r} is not allowed in a drafted signal")


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())[:5]
    return "_".join(words) or "signal"

