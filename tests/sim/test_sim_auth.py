"""WebSocket handshake auth: Kalshi's three signed headers, verified against the simulator's known keys."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from ssmd.kalshi.auth import HEADER_SIGNATURE, HEADER_TIMESTAMP, KalshiCredentials, generate_key_pair, load_private_key
from ssmd.testing import wait_until


async def _status(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int:
    try:
        ws = await http.ws_connect(url, headers=headers)
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    await ws.close()
    return 101


async def test_signed_client_subscribes_and_receives_data(make_sim: Any, connect: Any) -> None:
    """A client signing with a known key connects, gets one subscribed reply, then trade frames on that sid."""
    server = await make_sim(rate=2000)
    client = await connect(server)
    sids = await client.subscribe(["trade"])
    frame, _ = await client.until(lambda f: f.get("type") == "trade")
    assert frame["sid"] == sids["trade"]
    assert frame["msg"]["market_ticker"] in server.model.markets


async def test_bad_signature_is_401(make_sim: Any, http: aiohttp.ClientSession, keypair: Any) -> None:
    """A signature made with a different private key for the same key id is refused with HTTP 401."""
    server = await make_sim()
    other, _ = generate_key_pair()
    headers = KalshiCredentials(keypair.key_id, load_private_key(other)).headers("GET", "/trade-api/ws/v2")
    assert await _status(http, server.url, headers) == 401


async def test_signature_over_wrong_path_is_401(make_sim: Any, http: aiohttp.ClientSession, keypair: Any) -> None:
    """Signing a different path (e.g. the REST prefix) does not open the WebSocket."""
    server = await make_sim()
    headers = keypair.credentials.headers("GET", "/trade-api/v2")
    assert await _status(http, server.url, headers) == 401


async def test_stale_timestamp_is_401(make_sim: Any, http: aiohttp.ClientSession, keypair: Any) -> None:
    """A correct signature over a timestamp 61 s old is refused (skew limit 60 s)."""
    server = await make_sim()
    headers = keypair.credentials.headers("GET", "/trade-api/ws/v2", ts_ms=int(time.time() * 1000) - 61_000)
    assert await _status(http, server.url, headers) == 401


async def test_timestamp_in_seconds_is_401(make_sim: Any, http: aiohttp.ClientSession, keypair: Any) -> None:
    """Kalshi's most common signing mistake, a timestamp in seconds, is refused."""
    server = await make_sim()
    headers = keypair.credentials.headers("GET", "/trade-api/ws/v2", ts_ms=int(time.time()))
    assert await _status(http, server.url, headers) == 401


async def test_unknown_key_is_401(make_sim: Any, http: aiohttp.ClientSession, keypair: Any) -> None:
    """A valid signature under a key id the simulator does not know is refused."""
    server = await make_sim()
    creds = KalshiCredentials("not-a-known-key", load_private_key(keypair.private_pem))
    assert await _status(http, server.url, creds.headers("GET", "/trade-api/ws/v2")) == 401


@pytest.mark.parametrize("missing", [HEADER_SIGNATURE, HEADER_TIMESTAMP, "all"])
async def test_missing_headers_are_401(
    make_sim: Any, http: aiohttp.ClientSession, keypair: Any, missing: str
) -> None:
    """Any missing auth header (or all of them) is refused with 401."""
    server = await make_sim()
    headers = keypair.credentials.headers("GET", "/trade-api/ws/v2")
    headers = {} if missing == "all" else {k: v for k, v in headers.items() if k != missing}
    assert await _status(http, server.url, headers) == 401


async def test_no_auth_mode_accepts_unsigned(make_sim: Any, http: aiohttp.ClientSession) -> None:
    """With auth off (``--no-auth``) an unsigned client connects."""
    server = await make_sim(auth=False)
    assert await _status(http, server.url, {}) == 101


async def test_connection_cap_per_key_is_429(make_sim: Any, connect: Any, http: aiohttp.ClientSession,
                                             keypair: Any) -> None:
    """Beyond ``max_connections_per_key`` open sockets for one key the upgrade gets 429; closing one frees a slot."""
    server = await make_sim(max_connections_per_key=2)
    first = await connect(server)
    await connect(server)
    assert await _status(http, server.url, keypair.credentials.headers("GET", "/trade-api/ws/v2")) == 429
    await first.ws.close()
    await wait_until(lambda: len(server.sessions) < 2, what="the server to drop the closed socket")
    assert await _status(http, server.url, keypair.credentials.headers("GET", "/trade-api/ws/v2")) == 101

