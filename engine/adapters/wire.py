"""The wire helpers every venue adapter shares: one error type, JSON decoding, field types.

:class:`WireError` (and :class:`UnsupportedStream`), :func:`decode_json`, :func:`validate`
(pydantic errors -> WireError naming the field and the value), and the :data:`WireFloat` /
:data:`WireTime` / :data:`TokenId` field types. A caller of any venue's parser catches one
error type, counts the frame and skips it. Nothing here reads a clock or a socket.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from engine.adapters.corpus.binance import time_unit

_VALUE_REPR = 160  # characters of an offending value kept in an error message


class WireError(ValueError):
    """Bytes from a venue that a parser cannot accept.

    ``source`` names the feed and message kind (``"binance ftmusdt@bookTicker"``); ``field`` the
    place in it (``"data.b"``, ``"frame"`` for the whole frame); ``value`` what was found;
    ``expected`` the rule it broke. Callers count and skip such frames.
    """

    def __init__(self, source: str, field: str, value: object, expected: str) -> None:
        self.source, self.field, self.value, self.expected = source, field, value, expected
        shown = repr(value)
        if len(shown) > _VALUE_REPR:
            shown = shown[:_VALUE_REPR] + "...'"
        super().__init__(f"{source}: field {field or 'frame'}: got {shown}, expected {expected}")


class UnsupportedStream(WireError):
    """A well-formed frame of a known stream kind this adapter does not turn into events.

    Binance ``depth`` diffs, raw ``trade`` and ticker streams land here: callers count them apart
    from garbage (they mean a subscription the engine does not consume, not bad bytes).
    """


def decode_json(text: str | bytes, source: str) -> Any:
    """The JSON value of one text frame; non-UTF-8, non-JSON or truncated text is a WireError."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireError(
                source, "frame", bytes(text)[:80], f"UTF-8 text ({exc.reason})"
            ) from None
    if not isinstance(text, str):
        raise WireError(source, "frame", type(text).__name__, "a text frame (str or bytes)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WireError(
            source, "frame", text, f"valid JSON ({exc.msg} at char {exc.pos})"
        ) from None


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], obj: object, source: str, prefix: str = "") -> M:
    """``model`` validated from ``obj``; the first pydantic error becomes a :class:`WireError`.

    ``prefix`` is prepended to the error's field path (``"data"`` for a combined-stream payload).
    """
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        path = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        value = None if err["type"] == "missing" else err.get("input")
        expected = "a value (missing)" if err["type"] == "missing" else err["msg"]
        expected = expected.removeprefix("Value error, ")
        raise WireError(source, path, value, expected) from None


# -- field types ---------------------------------------------------------------------------
def wire_float(value: object) -> float:
    """A finite float from a JSON number or a decimal string (Binance and the CLOB send strings)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("a decimal number (string or JSON number)")
    try:
        x = float(value)
    except ValueError:
        raise ValueError("a decimal number (string or JSON number)") from None
    if not math.isfinite(x):
        raise ValueError("a finite decimal number")
    return x


def epoch_seconds(value: object) -> float:
    """Epoch seconds from an integer time in ms or µs (a JSON integer or a digit string).

    The unit is read from the magnitude (13 digits: ms; 16: µs), never assumed; a value that is
    neither (seconds, ns, garbage) raises ``ValueError``.
    """
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("an integer epoch time in ms or µs")
    unit = time_unit(value)
    if unit is None:
        raise ValueError("an epoch time in ms (13 digits) or µs (16 digits) between 2000 and 2100")
    return value / (1e3 if unit == "ms" else 1e6)


def _token_id(value: object) -> str:
    """A CLOB token id: a decimal string (an integer is turned into its exact digits)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.isdigit():
        raise ValueError("a decimal token id string")
    return value


WireFloat = Annotated[float, BeforeValidator(wire_float)]
WireTime = Annotated[float, BeforeValidator(epoch_seconds)]
TokenId = Annotated[str, BeforeValidator(_token_id)]
Price = Annotated[float, BeforeValidator(wire_float), Field(ge=0.0)]
Size = Annotated[float, BeforeValidator(wire_float), Field(ge=0.0)]


class Wire(BaseModel):
    """Base of all wire models: immutable, unknown keys ignored (venues add fields)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
