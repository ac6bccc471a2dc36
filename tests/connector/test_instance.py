"""``SSMD_INSTANCE``: the name a connector stamps on every message (``Ssmd-Instance``; the header itself is checked
in test_capture.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ssmd.config.envvars import EnvVarError
from ssmd.config.instance import check_instance, default_instance, instance_name
from ssmd.testing import ConnectorProc, write_env


@pytest.mark.parametrize(("args", "environ", "named"), [
    (("--instance", "zone a"), {}, "--instance"),
    ((), {"SSMD_INSTANCE": "a.b"}, "SSMD_INSTANCE"),
])
async def test_a_bad_instance_name_exits_2_naming_where_it_came_from(
    tmp_path: Path, args: tuple[str, ...], environ: dict[str, str], named: str
) -> None:
    env_path = write_env(tmp_path / "e.yaml", "bad", "", transport="memory")
    conn = ConnectorProc(tmp_path, env_path, None, *args, environ=environ)
    line = await asyncio.to_thread(conn.startup_error, 60)
    assert line.startswith(f"error: {named}="), conn.logs()
    assert "letters, digits" in line


def test_instance_name_defaults_to_a_safe_hostname_and_checks_what_it_is_given() -> None:
    assert instance_name({}) == instance_name({"SSMD_INSTANCE": "  "}) == default_instance()
    assert check_instance(default_instance()) == default_instance()
    assert instance_name({"SSMD_INSTANCE": " zone-b_2 "}) == "zone-b_2"
    for bad in ("-a", "a/b", "x" * 64, "é", "a\nb"):
        with pytest.raises(EnvVarError, match="SSMD_INSTANCE="):
            instance_name({"SSMD_INSTANCE": bad})
