"""Kalshi API-key auth: RSA-PSS signatures checked with `cryptography`'s own verifier, key loading, secrecy."""

from __future__ import annotations

import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ssmd.kalshi.auth import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    WS_PATH,
    AuthError,
    KalshiCredentials,
    credentials_from_env,
    generate_key_pair,
    load_private_key,
    load_public_key,
    verify_signature,
)

KALSHI_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
TS = 1703123456789


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, str]:
    return generate_key_pair()


@pytest.fixture(scope="module")
def private_key(key_pair: tuple[str, str]) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(key_pair[0].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@pytest.fixture(scope="module")
def creds(private_key: rsa.RSAPrivateKey) -> KalshiCredentials:
    return KalshiCredentials("key-1234", private_key)


def _verify(public: rsa.RSAPublicKey, headers: dict[str, str], message: bytes, pss: padding.PSS = KALSHI_PSS) -> None:
    import base64

    public.verify(base64.b64decode(headers[HEADER_SIGNATURE]), message, pss, hashes.SHA256())


def _body_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def test_ws_signature_verifies_with_cryptography(creds: KalshiCredentials, private_key: rsa.RSAPrivateKey) -> None:
    """The WS upgrade signature is RSA-PSS/SHA-256 over `ts + GET + /trade-api/ws/v2`, checked independently."""
    headers = creds.headers("GET", WS_PATH, ts_ms=TS)
    _verify(private_key.public_key(), headers, b"1703123456789GET/trade-api/ws/v2")


def test_rest_signature_strips_query_string(creds: KalshiCredentials, private_key: rsa.RSAPrivateKey) -> None:
    """A REST path with `?limit=5` is signed without its query string."""
    headers = creds.headers("get", "/trade-api/v2/markets?limit=5&status=open", ts_ms=TS)
    _verify(private_key.public_key(), headers, b"1703123456789GET/trade-api/v2/markets")


def test_signature_uses_digest_length_salt(creds: KalshiCredentials, private_key: rsa.RSAPrivateKey) -> None:
    """The PSS salt is 32 bytes (digest length): a verifier expecting another salt length rejects it."""
    headers = creds.headers("GET", WS_PATH, ts_ms=TS)
    message = f"{TS}GET{WS_PATH}".encode()
    _verify(private_key.public_key(), headers, message, padding.PSS(padding.MGF1(hashes.SHA256()), 32))
    with pytest.raises(InvalidSignature):
        _verify(private_key.public_key(), headers, message, padding.PSS(padding.MGF1(hashes.SHA256()), 0))


def test_headers_carry_key_id_and_ms_timestamp(creds: KalshiCredentials) -> None:
    """The three headers are present; the default timestamp is the current time in milliseconds."""
    before = int(time.time() * 1000)
    headers = creds.headers("GET", WS_PATH)
    after = int(time.time() * 1000)
    assert set(headers) == {HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP}
    assert headers[HEADER_KEY] == "key-1234"
    assert before <= int(headers[HEADER_TIMESTAMP]) <= after


def test_signatures_are_fresh_per_call(creds: KalshiCredentials) -> None:
    """PSS is randomized: signing the same message twice gives two different signatures."""
    assert creds.sign(TS, "GET", WS_PATH) != creds.sign(TS, "GET", WS_PATH)


def test_pkcs8_and_pkcs1_pems_load_the_same_key(private_key: rsa.RSAPrivateKey, key_pair: tuple[str, str]) -> None:
    """`BEGIN PRIVATE KEY` (PKCS#8) and `BEGIN RSA PRIVATE KEY` (PKCS#1) both load."""
    pkcs1 = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    assert "BEGIN RSA PRIVATE KEY" in pkcs1 and "BEGIN PRIVATE KEY" in key_pair[0]
    expected = private_key.private_numbers()
    assert load_private_key(pkcs1).private_numbers() == expected
    assert load_private_key(key_pair[0]).private_numbers() == expected


def test_pem_with_literal_backslash_n_loads(private_key: rsa.RSAPrivateKey, key_pair: tuple[str, str]) -> None:
    """A PEM squeezed onto one line with literal `\\n` (as in .env files) still loads."""
    one_line = key_pair[0].strip().replace("\n", "\\n")
    assert load_private_key(one_line).private_numbers() == private_key.private_numbers()


def test_corrupt_pem_names_variable_without_key_text(key_pair: tuple[str, str]) -> None:
    """A damaged PEM raises AuthError naming KALSHI_PRIVATE_KEY, with no key text and no chained traceback."""
    lines = key_pair[0].splitlines()
    corrupt = "\n".join([lines[0], *lines[1:4], lines[-1]])  # truncated body
    with pytest.raises(AuthError) as info:
        load_private_key(corrupt)
    text = str(info.value)
    assert "KALSHI_PRIVATE_KEY" in text
    assert not any(line in text for line in _body_lines(key_pair[0]))
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_non_pem_value_names_variable() -> None:
    """A value that is not PEM at all (e.g. a file path) is a clear error naming the variable."""
    with pytest.raises(AuthError, match="KALSHI_PRIVATE_KEY is not PEM"):
        load_private_key("/home/me/kalshi.key")


def test_non_rsa_key_is_rejected() -> None:
    """An EC private key is refused: Kalshi signs with RSA."""
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(AuthError, match="expected an RSA private key"):
        load_private_key(ec_pem)


def test_repr_never_shows_key_material(creds: KalshiCredentials, private_key: rsa.RSAPrivateKey,
                                       key_pair: tuple[str, str]) -> None:
    """repr/str/format of credentials show the key id only: no PEM text, no private numbers."""
    numbers = private_key.private_numbers()
    for shown in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert "key-1234" in shown
        assert not any(line in shown for line in _body_lines(key_pair[0]))
        for secret in (numbers.d, numbers.p, numbers.q, numbers.public_numbers.n):
            assert str(secret) not in shown and format(secret, "x") not in shown


def test_credentials_from_env_names_missing_variables() -> None:
    """Missing env vars are named in the error: both, or just the one that is missing."""
    with pytest.raises(AuthError, match="KALSHI_API_KEY and KALSHI_PRIVATE_KEY"):
        credentials_from_env({})
    with pytest.raises(AuthError) as info:
        credentials_from_env({"KALSHI_API_KEY": "abc"})
    assert "KALSHI_PRIVATE_KEY" in str(info.value) and "KALSHI_API_KEY" not in str(info.value)


def test_credentials_from_env_loads(key_pair: tuple[str, str]) -> None:
    """With both variables set, credentials carry the key id and sign verifiably."""
    creds = credentials_from_env({"KALSHI_API_KEY": " id-9 ", "KALSHI_PRIVATE_KEY": key_pair[0]})
    assert creds.key_id == "id-9"
    headers = creds.headers("GET", WS_PATH, ts_ms=TS)
    assert verify_signature(load_public_key(key_pair[1]), headers[HEADER_SIGNATURE], TS, "GET", WS_PATH)


@pytest.mark.parametrize(
    ("ts_ms", "method", "path", "signature"),
    [
        (TS + 1, "GET", WS_PATH, None),
        (TS, "POST", WS_PATH, None),
        (TS, "GET", "/trade-api/v2/markets", None),
        (TS, "GET", WS_PATH, "not base64 !!"),
    ],
)
def test_verify_signature_rejects_mismatches(creds: KalshiCredentials, key_pair: tuple[str, str], ts_ms: int,
                                             method: str, path: str, signature: str | None) -> None:
    """The server-side check fails for another timestamp, method, path, or a signature that is not base64."""
    good = creds.sign(TS, "GET", WS_PATH)
    public = load_public_key(key_pair[1])
    assert verify_signature(public, good, TS, "GET", WS_PATH)
    assert not verify_signature(public, signature or good, ts_ms, method, path)
