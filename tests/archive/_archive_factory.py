"""Build archives exactly as docs/archive-format.md describes, for tests that must not wait for the archiver."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from ssmd.archive._head import decode_head
from ssmd.bus.subjects import subject_for, unparsed_subject


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def envelope_line(raw: bytes, seq: int, prefix: str = "prod.kalshi") -> bytes:
    head = decode_head(raw)
    subject = subject_for(prefix, head.type, head.ticker) if head.type else unparsed_subject(prefix)
    body: dict[str, Any] = {"subject": subject, "seq": seq, "received_ns": 1_700_000_000_000_000_000 + seq}
    try:
        orjson.loads(raw)
        body["data"] = orjson.Fragment(raw)
    except orjson.JSONDecodeError:
        body["data_b64"] = base64.b64encode(raw).decode()  # as the archiver writes a payload that is not JSON
    return orjson.dumps(body)


def write_day(
    root: Path,
    day: str,
    files: Sequence[tuple[str, Sequence[bytes]]],
    feed: str = "kalshi",
    fmt: str = "jsonl",
    interval_min: int = 15,
    first_seq: int = 1,
    gaps: Sequence[dict[str, Any]] = (),
) -> Path:
    """Write ``files`` (name, frames) into ``root/feed/day`` with a manifest; returns the day dir."""
    day_dir = root / feed / day
    day_dir.mkdir(parents=True, exist_ok=True)
    date = dt.date.fromisoformat(day)
    seq = first_seq
    entries = []
    tickers: set[str] = set()
    types: set[str] = set()
    for name, frames in files:
        lines = []
        start_seq = seq
        by_type: Counter[str] = Counter()
        stamps = []
        for raw in frames:
            lines.append(envelope_line(raw, seq) if fmt == "envelope" else raw)
            seq += 1
            head = decode_head(raw)
            by_type[head.type or "unparsed"] += 1
            if head.type:
                types.add(head.type)
            if head.ticker:
                tickers.add(head.ticker)
            if (ts := head.ts_ms()) is not None:
                stamps.append(ts)
        body = b"".join(line + b"\n" for line in lines)
        blob = gz(body)
        (day_dir / name).write_bytes(blob)
        hh, mm = int(name[:2]), int(name[2:4])
        start = dt.datetime(date.year, date.month, date.day, hh, mm, tzinfo=dt.UTC)
        entries.append({
            "name": name,
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (start + dt.timedelta(minutes=interval_min)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "records": len(lines),
            "bytes": len(body),
            "compressed_bytes": len(blob),
            "sha256": hashlib.sha256(blob).hexdigest(),
            "nats_start_seq": start_seq,
            "nats_end_seq": seq - 1,
            "records_by_type": dict(sorted(by_type.items())),
            "first_ts_ms": stamps[0] if stamps else None,
            "last_ts_ms": stamps[-1] if stamps else None,
        })
    manifest = {
        "version": 1, "feed": feed, "date": day, "format": fmt, "rotation_interval": f"{interval_min}m",
        "files": entries, "gaps": list(gaps), "tickers": sorted(tickers), "message_types": sorted(types),
        "has_gaps": bool(gaps),
    }
    (day_dir / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return day_dir


def read_samples(samples_path: Path) -> list[bytes]:
    return [line for line in samples_path.read_bytes().split(b"\n") if line]


def trade(trade_id: str, ts: int, ticker: str = "KXTEST-26JAN01-T1.5", seq: int = 1, price: int = 42) -> bytes:
    """A trade frame in the current (dollar string, ``_fp``) wire format."""
    return orjson.dumps({"type": "trade", "sid": 2, "seq": seq, "msg": {
        "trade_id": trade_id, "market_ticker": ticker, "yes_price_dollars": f"{price / 100:.4f}",
        "no_price_dollars": f"{(100 - price) / 100:.4f}", "count_fp": "3.00", "taker_side": "yes", "ts": ts}})


def ticker(ts: int, name: str = "KXTEST-26JAN01-T1.5") -> bytes:
    return orjson.dumps({"type": "ticker", "sid": 1, "msg": {"market_ticker": name, "price_dollars": "0.4200",
                                                             "yes_bid_dollars": "0.4100", "ts": ts}})
