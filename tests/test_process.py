"""One process lifecycle: an SsmdError anywhere ends a service with one line and its class's exit code; the one
back-off wakes at once on shutdown."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from ssmd.errors import EXIT_USAGE, InputError, SsmdError
from ssmd.runtime.backoff import Backoff
from ssmd.runtime.process import checked, run_service


@pytest.mark.parametrize(("error", "code"), [(InputError("bad.yaml: nats.url: missing"), 2),
                                            (SsmdError("disk gone"), 1),
                                            (SsmdError("custom", exit_code=3), 3)])
def test_an_error_becomes_one_line_and_its_exit_code(error: SsmdError, code: int,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    async def main(stop: asyncio.Event) -> int:
        raise error

    with pytest.raises(SystemExit) as exit_:
        run_service(main)
    assert exit_.value.code == code
    assert capsys.readouterr().err == f"error: {error}\n"


def test_the_exit_code_main_returns_is_the_process_s(capsys: pytest.CaptureFixture[str]) -> None:
    async def main(stop: asyncio.Event) -> None:
        assert not stop.is_set()

    with pytest.raises(SystemExit) as exit_:
        run_service(main)
    assert exit_.value.code == 0 and capsys.readouterr().err == ""


def test_config_and_nats_errors_are_bad_input() -> None:
    from ssmd.bus.connect import NatsUnavailable
    from ssmd.bus.streams import StreamConflict
    from ssmd.config import ConfigError

    assert all(issubclass(cls, InputError) for cls in (ConfigError, NatsUnavailable, StreamConflict))
    def load() -> None:
        raise ConfigError("x.yaml", [])

    with pytest.raises(SystemExit) as exit_:
        checked(load, prefix="")
    assert exit_.value.code == EXIT_USAGE


def test_backoff_wait_wakes_at_once_on_stop() -> None:
    async def scenario() -> tuple[bool, float]:
        stop = asyncio.Event()
        backoff = Backoff(30.0, 60.0)
        asyncio.get_running_loop().call_later(0.05, stop.set)
        started = time.monotonic()
        stopping = await backoff.wait(stop)
        return stopping, time.monotonic() - started

    stopping, took = asyncio.run(scenario())
    assert stopping and took < 10.0


_SETTLE = """
import gc, weakref
from ssmd.runtime.process import settle_heap

class Node:
    pass

gc.disable()  # only settle_heap collects here
old = Node(); old.me = old; old_ref = weakref.ref(old); del old
kept = [Node() for _ in range(100)]
settle_heap()
assert old_ref() is None, "garbage from before was frozen instead of collected"
assert gc.get_freeze_count() >= 100, gc.get_freeze_count()
new = Node(); new.me = new; new_ref = weakref.ref(new); del new
gc.collect()
assert new_ref() is None, "garbage made later is not collected"
"""


def test_settle_heap_collects_freezes_what_lives_and_still_collects_what_comes_later() -> None:
    """In a process of its own: freezing the test runner's heap would keep its garbage for good."""
    done = subprocess.run([sys.executable, "-c", _SETTLE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
