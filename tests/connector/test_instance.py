"""``SSMD_INSTANCE``: every message a connector publishes says which instance captured it (``Ssmd-Instance``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ssmd.config.envvars import EnvVarError
from ssmd.config.instance import check_instance, default_instance, instance_name
from ssmd.testing import ConnectorProc, Setup, Sim, drain_and_compare, write_env


async def test_every_message_carries_the_instance_name(stream: Setup, sim: Sim) -> None:
    """Against the simulator and a real nats-server: each stored frame has ``Ssmd-Instance: zone-a``, and the
    pre-encoded header block leaves the per-frame headers intact."""
    conn = ConnectorProc(stream.workdir, stream.env_path, sim.url, environ={"SSMD_INSTANCE": "zone-a"})
    try:
        await conn.wait_ready()
        await sim.wait_sent(200)
        msgs = await drain_and_compare(sim, stream)
    finally:
        assert conn.terminate() == 0
    assert msgs
    assert {m.headers.get("Ssmd-Instance") for m in msgs} == {"zone-a"}
    assert all(m.headers["Nats-Msg-Id"].startswith(m.headers["Ssmd-Conn"] + ":") for m in msgs)
    assert all(m.headers["Nats-Expected-Stream"] == stream.stream for m in msgs)


@pytest.mark.parametrize(("args", "environ", "named"), [
    (("--instance", "zone a"), {}, "--instance"),
    ((), {"SSMD_INSTANCE": "a.b"}, "SSMD_INSTANCE"),
])
async def test_a_bad_instance_name_exits_2_naming_where_it_came_from(
    tmp_path: Path, args: tuple[str, ...], environ: dict[str, str], named: str
) -> None:
    env_path = write_env(tmp_path / "e.yaml", "bad", "", transport="memory")
    conn = ConnectorProc(tmp_path, env_path, None, *args, environ=environ)
    assert await asyncio.to_thread(conn.wait, 60) == 2
    lines = [line for line in conn.logs().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(f"error: {named}="), conn.logs()
    assert "letters, digits" in lines[0]
    assert "Traceback" not in conn.logs()


def test_instance_name_defaults_to_a_safe_hostname_and_checks_what_it_is_given() -> None:
    assert instance_name({}) == instance_name({"SSMD_INSTANCE": "  "}) == default_instance()
    assert check_instance(default_instance()) == default_instance()
    assert instance_name({"SSMD_INSTANCE": " zone-b_2 "}) == "zone-b_2"
    for bad in ("-a", "a/b", "x" * 64, "é", "a\nb"):
        with pytest.raises(EnvVarError, match="SSMD_INSTANCE="):
            instance_name({"SSMD_INSTANCE": bad})
