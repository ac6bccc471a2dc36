"""``ssmd up`` from start to summary: start in order, report, stop in order, verify the archive.

Shutdown order is what makes the final archive complete: the simulator is paused, the connector is stopped
(it flushes everything it received), the archiver is given time to drain its consumer, and only then is
anything else stopped. NATS goes last.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from ssmd import naming
from ssmd.up import pipeline, status
from ssmd.up.pipeline import Options, Plan
from ssmd.up.supervisor import StartError, Supervisor

Out = Callable[[str], None]

_DRAIN_TIMEOUT_S = 30.0
_QUIET_S = 1.0
"""How long the connector's received count must stay still, after pausing the simulator, to call it drained."""


@dataclass(frozen=True)
class RunSettings:
    duration_s: float | None
    status_every_s: float = 5.0


def where(plan: Plan) -> list[str]:
    """The "what runs where" block printed before the first status line."""
    rel = plan.data_dir
    lines = [
        f"ssmd up ({'LIVE' if plan.sim is None else 'simulated'} {plan.feed}): everything under {rel}",
        f"  nats-server  {plan.nats_url}  JetStream store {plan.nats_dir}"
        + (f"  ({len(plan.nats)}-node cluster, every write fsynced)" if len(plan.nats) > 1 else ""),
        f"  stream       {plan.stream} on {naming.capture_filter(plan.subject_prefix)}  (frames on "
        f"{naming.subject(plan.subject_prefix, '{type}', '{market}')}), {plan.replicas} replica(s)",
    ]
    if plan.sim is not None:
        lines.append(f"  simulator    {plan.sim_ws_url}  stats {plan.sim_url}/_sim/stats  sent-log {plan.sent_log}")
    lines += [
        f"  connector    {pipeline.metrics_url(plan.connector)}",
        f"  archiver     {pipeline.metrics_url(plan.archiver)}  files {plan.archive_root}/"
        f"{plan.feed}/YYYY-MM-DD/HHMM.jsonl.gz (rotation {plan.rotation})",
        f"  agent        {pipeline.metrics_url(plan.agent)}  fires on {naming.fires_filter(plan.env_name)}",
        f"  configs      {plan.config_dir}   logs {rel / 'logs'}",
        "Ctrl-C stops everything cleanly.",
    ]
    return lines


async def run(opts: Options, settings: RunSettings, out: Out, stop: asyncio.Event) -> int:
    plan = pipeline.build(opts)
    if plan.sent_log is not None:
        plan.sent_log.unlink(missing_ok=True)  # the oracle for this run only
    env = pipeline.base_env(plan.data_dir, opts.live, feed=opts.feed)
    earlier = _archived_records(plan)  # a re-run adds to the same archive
    async with Supervisor(env, out) as sup, aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
        try:
            plan = await _start(sup, plan, out)
        except StartError as exc:
            out(f"error: {exc}")
            return 1
        for text in where(plan):
            out(text)
        probe = status.Probe(plan, http)
        started = time.monotonic()
        await _report_until(stop, settings, probe, sup, started, out)
        ran_s = time.monotonic() - started
        out("stopping: draining the pipeline ...")
        await _drain_and_stop(sup, plan, probe, out)
        final = await probe.snapshot()  # services are down: only the files count remains meaningful
        restarts = {name: c.restarts for name, c in sup.children.items() if c.restarts}
    return await _summary(plan, final, restarts, ran_s, earlier, out)


async def _start(sup: Supervisor, plan: Plan, out: Out) -> Plan:
    await asyncio.gather(*(sup.start(node) for node in plan.nats))  # a cluster is healthy only once it formed
    code, text = await sup.run_once(plan.stream_ensure)
    if code != 0:
        raise StartError(f"ssmd stream ensure failed ({code}): {text.strip()}")
    out(text.strip().splitlines()[-1] if text.strip() else "stream ensured")
    if plan.keygen is not None:
        code, text = await sup.run_once(plan.keygen)
        if code != 0:
            raise StartError(f"ssmd {' '.join(plan.keygen.argv[3:5])} failed ({code}): {text.strip()}")
        plan = pipeline.with_demo_credentials(plan)
    for spec in plan.services[len(plan.nats):]:
        child = await sup.start(spec)
        out(f"✓ {spec.name} started (pid {child.pid})")
    return plan


async def _report_until(stop: asyncio.Event, settings: RunSettings, probe: status.Probe, sup: Supervisor,
                        started: float, out: Out) -> None:
    deadline = None if settings.duration_s is None else started + settings.duration_s
    prev: status.Snapshot | None = None
    while not stop.is_set():
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return
        wait = settings.status_every_s if deadline is None else min(settings.status_every_s, deadline - now)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(wait, 0.0))
        if stop.is_set():
            return
        cur = await probe.snapshot()
        restarts = sum(c.restarts for c in sup.children.values())
        out(status.line(prev, cur, time.monotonic() - started, restarts))
        prev = cur


async def _drain_and_stop(sup: Supervisor, plan: Plan, probe: status.Probe, out: Out) -> None:
    deadline = time.monotonic() + _DRAIN_TIMEOUT_S
    if plan.sim_url is not None:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with probe.session.post(f"{plan.sim_url}/_sim/pause") as resp:
                resp.release()
        await _until_connector_quiet(probe, deadline)
    await sup.stop("connector")  # SIGTERM: it flushes what it holds, then exits
    drained = await _until_archiver_drained(plan, deadline)
    if not drained:
        out(f"! the archiver did not drain within {_DRAIN_TIMEOUT_S:.0f}s; stopping anyway "
            "(it resumes exactly where it stopped on the next run)")
    await sup.stop_all(order=[["archiver", "agent", "simulator"], [node.name for node in plan.nats]])


async def _until_connector_quiet(probe: status.Probe, deadline: float) -> None:
    last: float | None = None
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        snap = await probe.snapshot()
        if snap.received != last:
            last, quiet_since = snap.received, time.monotonic()
        elif not snap.buffered and time.monotonic() - quiet_since >= _QUIET_S:
            return
        await asyncio.sleep(0.2)


async def _until_archiver_drained(plan: Plan, deadline: float) -> bool:
    """True once the archiver's durable consumer has nothing pending and nothing unacknowledged."""
    from nats.js.errors import NotFoundError

    from ssmd.bus.connect import NatsUnavailable, connect

    try:
        nc = await connect(plan.nats_url, "ssmd-up", max_reconnect_attempts=0)
    except NatsUnavailable:
        return False
    try:
        js = nc.jetstream()
        while time.monotonic() < deadline:
            try:
                info = await js.consumer_info(plan.stream, plan.consumer)
            except (NotFoundError, TimeoutError):
                info = None
            if info is not None and info.num_pending == 0 and info.num_ack_pending == 0:
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await nc.close()


async def _summary(plan: Plan, final: status.Snapshot, restarts: dict[str, int], elapsed: float, earlier: int,
                   out: Out) -> int:
    sent = _count_lines(plan.sent_log) if plan.sent_log is not None else None
    records = _archived_records(plan)
    added = records - earlier
    out("summary:")
    out(f"  ran {elapsed:,.0f}s; archive {plan.archive_root} holds {records:,} frames ({added:,} from this run) "
        f"in {final.files} file(s)")
    if sent is not None:
        verdict = "all archived" if sent == added else f"{sent - added:,} not archived"
        out(f"  the simulator sent {sent:,} frames this run: {verdict}")
    out("  restarts: " + (", ".join(f"{k} x{v}" for k, v in sorted(restarts.items())) if restarts else "none"))
    code, text = await _verify(plan)
    out(f"  ssmd archive verify {plan.archive_root}: {'OK' if code == 0 else f'FAILED (exit {code})'}")
    for row in text.strip().splitlines()[-15:]:
        out(f"    {row}")
    return 0 if code == 0 else 1


async def _verify(plan: Plan) -> tuple[int, str]:
    if not plan.archive_root.exists():
        return 1, "no archive was written"
    proc = await asyncio.create_subprocess_exec(
        *pipeline.ssmd_command("archive", "verify", str(plan.archive_root)),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL,
        env={**os.environ, "SSMD_LOG": "warning"},
    )
    output, _ = await proc.communicate()
    return proc.returncode or 0, output.decode(errors="replace")


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def _archived_records(plan: Plan) -> int:
    import orjson

    total = 0
    for manifest in plan.archive_root.glob("*/*/manifest.json"):
        with contextlib.suppress(OSError, orjson.JSONDecodeError):
            total += sum(int(f.get("records", 0)) for f in orjson.loads(manifest.read_bytes()).get("files", []))
    return total
