"""Whole-column twins of the scalar converters in :mod:`ssmd.kalshi.values`, for bulk export.

A bulk JSON reader (DuckDB in ``ssmd.archive``) hands every wire field over as its JSON text: a string value
unquoted, a number as its literal. :mod:`ssmd.kalshi.values` treats a number and its text alike for decimals, so
each converter here reads a text column and returns what the scalar converter would, for every row at once:

* the common shape (``"0.4200"``, ``42``, ``1770897600``) is matched by a regular expression and cast by Arrow in
  C++, exactly (a decimal cast never rounds: the pattern bounds the digits to what the column holds);
* anything else (whitespace, ``+0.5``, ``1e-2``, sub-column precision, ``"abc"``) goes element by element through
  the scalar converter of ``values`` itself, so both paths agree by construction.

A converter returns :class:`Converted`: values in the column's type, which rows were unreadable (the wire name goes
into ``bad_fields``), and which were readable but do not fit the column (more decimals or digits than it holds:
null, named by the column). No Python ``Decimal`` is built for a row that takes the fast path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ssmd.kalshi import values as v

PRICE = pa.decimal128(12, 6)
"""Dollars per contract."""
QTY = pa.decimal128(20, 4)
"""Contracts (sizes, counts, volume, open interest) and whole-dollar totals."""
MS = pa.int64()

_NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_INT = r"^-?[0-9]+$"


@dataclass(frozen=True, slots=True)
class Converted:
    values: pa.Array
    unreadable: pa.Array | None = None
    """Boolean: present but unreadable (the next older wire name is tried). ``None``: no such row."""
    unfit: pa.Array | None = None
    """Boolean: readable, but more digits than the column holds (null, named by the column)."""


Converter = Callable[[pa.Array], Converted]


def _any(mask: pa.Array | None) -> bool:
    return mask is not None and bool(pc.any(mask).as_py())


def _mask(flags: list[bool]) -> pa.Array | None:
    return pa.array(flags, pa.bool_()) if any(flags) else None


def _slow(src: pa.Array, fast: pa.Array, clean: pa.Array, typ: pa.DataType,
          scalar: Callable[[str], Any], fit: Callable[[Any], Any] | None = None, empty_is_none: bool = False
          ) -> Converted:
    """Rows not matched by the fast pattern go through ``scalar`` (a ``values`` converter) one by one; ``""`` is
    no value without that detour when ``empty_is_none``."""
    odd = pc.and_(pc.is_valid(src), pc.invert(pc.fill_null(clean, False)))
    if empty_is_none:
        odd = pc.fill_null(pc.and_(odd, pc.not_equal(src, "")), False)
    if not _any(odd):
        return Converted(fast)
    texts = src.filter(odd).to_pylist()
    out: list[Any] = []
    unreadable: list[bool] = []
    unfit: list[bool] = []
    for text in texts:
        try:
            value = scalar(text)
        except v._Bad:
            out.append(None)
            unreadable.append(True)
            unfit.append(False)
            continue
        unreadable.append(False)
        if value is not None and fit is not None:
            fitted = fit(value)
            unfit.append(fitted is None)
            value = fitted
        else:
            unfit.append(False)
        out.append(value)
    replaced = pc.replace_with_mask(fast, odd, pa.array(out, typ))
    return Converted(replaced, _scatter(odd, unreadable), _scatter(odd, unfit))


def _scatter(where: pa.Array, flags: list[bool]) -> pa.Array | None:
    """A full-length boolean column: ``flags`` at the rows where ``where`` is true, false elsewhere."""
    if not any(flags):
        return None
    base = pa.array([False] * len(where), pa.bool_())
    return pc.replace_with_mask(base, where, pa.array(flags, pa.bool_()))


def _fitter(typ: pa.Decimal128Type) -> Callable[[Decimal], Decimal | None]:
    quantum = Decimal(1).scaleb(-typ.scale)
    limit = Decimal(10) ** (typ.precision - typ.scale)

    def fit(value: Decimal) -> Decimal | None:
        try:
            fitted = value.quantize(quantum)
        except ArithmeticError:
            return None
        return fitted if fitted == value and abs(fitted) < limit else None

    return fit


def _decimal_pattern(typ: pa.Decimal128Type, scale_shift: int = 0) -> str:
    integer = typ.precision - typ.scale + scale_shift
    fraction = typ.scale - scale_shift
    return rf"^-?[0-9]{{1,{integer}}}(\.[0-9]{{1,{fraction}}})?$" if fraction else rf"^-?[0-9]{{1,{integer}}}$"


def _as_number(text: str) -> object:
    """A JSON number's text back as the number ``values`` would have received (int or float); other text as is."""
    if _NUMBER.match(text):
        try:
            return int(text)
        except ValueError:
            return float(text)
    return text


def decimal(typ: pa.Decimal128Type) -> Converter:
    """``values._decimal`` (``"0.4200"``, ``42``, ``""`` -> null) into ``typ``."""
    pattern = _decimal_pattern(typ)
    fit = _fitter(typ)

    def convert(src: pa.Array) -> Converted:
        try:  # Arrow's decimal syntax is a subset of Python's, and a cast that would round raises
            return Converted(pc.cast(src, typ))
        except pa.ArrowInvalid:
            pass
        clean = pc.match_substring_regex(src, pattern)
        fast = pc.cast(pc.if_else(clean, src, pa.scalar(None, pa.string())), typ)
        return _slow(src, fast, clean, typ, lambda t: v._decimal(t), fit, empty_is_none=True)

    return convert


def cents(typ: pa.Decimal128Type) -> Converter:
    """``values._cents``: integer cents (``42``) into dollars (``0.42``), exactly: cast at a scale two lower and
    reinterpret the same unscaled integers at the column's scale."""
    shifted = pa.decimal128(typ.precision, typ.scale - 2)
    pattern = _decimal_pattern(typ, scale_shift=2)
    fit = _fitter(typ)

    def convert(src: pa.Array) -> Converted:
        try:
            return Converted(pc.cast(src, shifted).view(typ))
        except pa.ArrowInvalid:
            pass
        clean = pc.match_substring_regex(src, pattern)
        fast = pc.cast(pc.if_else(clean, src, pa.scalar(None, pa.string())), shifted).view(typ)
        return _slow(src, fast, clean, typ, lambda t: v._cents(_as_number(t)), fit, empty_is_none=True)

    return convert


def epoch_ms(src: pa.Array) -> Converted:
    """``values._epoch_ms`` (``ts_ms``): integer milliseconds."""
    try:
        return Converted(pc.cast(src, MS))
    except pa.ArrowInvalid:
        pass
    clean = pc.match_substring_regex(src, _INT)
    fast = pc.cast(pc.if_else(clean, src, pa.scalar(None, pa.string())), MS)
    return _slow(src, fast, clean, MS, lambda t: v._epoch_ms(_as_number(t)))


_ISO = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
_TS_US = pa.timestamp("us", tz="UTC")


def seconds_ms(src: pa.Array) -> Converted:
    """``values._seconds_ms`` (``ts``, ``time``): Unix seconds (ms when above 1e11) or RFC 3339, as Unix ms."""
    try:
        as_int = pc.cast(src, MS)
    except pa.ArrowInvalid:
        pass
    else:
        return Converted(pc.if_else(pc.greater(as_int, 10**11), as_int, pc.multiply_checked(as_int, 1000)))
    is_int = pc.match_substring_regex(src, _INT)
    as_int = pc.cast(pc.if_else(is_int, src, pa.scalar(None, pa.string())), MS)
    from_int = pc.if_else(pc.greater(as_int, 10**11), as_int, pc.multiply_checked(as_int, 1000))
    is_iso = pc.match_substring_regex(src, _ISO)
    if _any(is_iso):
        us = pc.cast(pc.cast(pc.if_else(is_iso, src, pa.scalar(None, pa.string())), _TS_US), MS)
        from_iso = pc.divide(pc.subtract(us, pc.if_else(pc.less(us, 0), 999, 0)), 1000)  # floor, as values does
        fast = pc.coalesce(from_int, from_iso)
        clean = pc.or_(pc.fill_null(is_int, False), pc.fill_null(is_iso, False))
    else:
        fast, clean = from_int, is_int
    return _slow(src, fast, clean, MS, lambda t: v._seconds_ms(_as_number(t)), empty_is_none=True)


def seconds(src: pa.Array) -> Converted:
    """``values._seconds`` (lifecycle ``*_ts``): Unix seconds, from seconds, ms or RFC 3339."""
    ms = seconds_ms(src)
    return Converted(_floor_div(ms.values, 1000), ms.unreadable)


def _floor_div(values: pa.Array, by: int) -> pa.Array:
    return pc.divide(pc.subtract(values, pc.if_else(pc.less(values, 0), by - 1, 0)), by)


def side(src: pa.Array) -> Converted:
    """``values._side``: ``yes``/``no`` in any case; ``""`` is no value; anything else unreadable."""
    lower = pc.utf8_lower(src)
    ok = pc.or_(pc.is_in(lower, pa.array(["yes", "no"])), pc.equal(src, ""))
    return Converted(pc.if_else(pc.equal(src, ""), pa.scalar(None, pa.string()), pc.if_else(ok, lower, None)),
                     _present_not(src, ok))


def book_side(src: pa.Array) -> Converted:
    """``values._book_side``: ``bid`` is YES, ``ask`` is NO."""
    mapped = pc.if_else(pc.equal(src, "bid"), "yes", pc.if_else(pc.equal(src, "ask"), "no", None))
    ok = pc.or_(pc.is_valid(mapped), pc.equal(src, ""))
    return Converted(mapped, _present_not(src, ok))


def _present_not(src: pa.Array, ok: pa.Array) -> pa.Array | None:
    bad = pc.and_(pc.is_valid(src), pc.invert(pc.fill_null(ok, False)))
    return bad if _any(bad) else None


def text(src: pa.Array) -> Converted:
    """``values._text``. The bulk reader hands a number over as its text, so a number is kept as text here."""
    return Converted(src)


def flag(src: pa.Array) -> Converted:
    """``values._flag`` from a JSON-typed column (``true``/``false``/``null``)."""
    out = pc.if_else(pc.equal(src, "true"), True, pc.if_else(pc.equal(src, "false"), False, None))
    ok = pc.is_valid(out)
    return Converted(out, _present_not(src, ok))


def settlement(typ: pa.Decimal128Type) -> Converter:
    """``values._settlement`` from a JSON-typed column: a string is dollars, an integer is cents, else dollars."""
    fit = _fitter(typ)

    def convert(src: pa.Array) -> Converted:
        out: list[Decimal | None] = []
        unreadable: list[bool] = []
        unfit: list[bool] = []
        for raw in src.to_pylist():
            value: Decimal | None = None
            bad = odd = False
            if raw is not None:
                try:
                    value = v._settlement(orjson.loads(raw))
                except (v._Bad, orjson.JSONDecodeError):
                    bad = True
                if value is not None:
                    fitted = fit(value)
                    odd, value = fitted is None, fitted
            out.append(value)
            unreadable.append(bad)
            unfit.append(odd)
        return Converted(pa.array(out, typ), _mask(unreadable), _mask(unfit))

    return convert


# --- order book levels ----------------------------------------------------------------------------------------


def json_or_text(raw: str) -> object:
    """A snapshot side as the bulk reader hands it over (its JSON text), parsed; text that is not JSON as is."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


def json_text(value: object) -> str | None:
    """One level's price or size as the text a converter reads: a string as is, a number as its literal; anything
    else (``true``, a list) as JSON text, which no converter reads (unreadable, as in ``values``)."""
    if isinstance(value, str):
        return value
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return orjson.dumps(value).decode()


def unscaled(values: pa.Array) -> pa.Array:
    """The integers under a decimal column (``0.42`` at scale 6 -> ``420000``), as int64: the book's ticks."""
    typ = values.type
    assert isinstance(typ, pa.Decimal128Type)
    return pc.cast(values.view(pa.decimal128(typ.precision, 0)), pa.int64())
