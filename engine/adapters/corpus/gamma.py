"""Polymarket Gamma market objects (``GET /markets`` items, stored as-is) -> :class:`CorpusMarket`.

The corpus keeps one Gamma market object per file, exactly as the API returned it. The quirks
handled here (see ``docs/corpus.md``):

- ``outcomes``, ``outcomePrices`` and ``clobTokenIds`` are JSON-encoded *strings* holding arrays
  (other endpoints send real arrays: both are accepted). Token ids stay decimal strings.
- ``eventStartTime`` is the window start, the strike time; ``startDate`` is only the listing
  time. ``endDate`` is expiry. For ``<coin>-updown-<window>-<epoch>`` slugs the epoch must equal
  ``eventStartTime`` and ``endDate - eventStartTime`` the window: a file that disagrees is refused.
- The Up (or Yes) token is the one whose label in ``outcomes`` says so, wherever it stands;
  for other label pairs (sports teams) the first outcome plays the Up/Yes part.
- The outcome comes from these files only: ``closed: true`` and ``outcomePrices`` exactly 1 and 0.
  Anything else (open, or a 50-50 / unsettled ``0.5``) is *unresolved*: ``outcome`` is None and
  ``unresolved`` says why. Nothing is guessed from prices or spot.
- Fees: none when ``feesEnabled`` is false; else ``feeSchedule.rate`` (and ``exponent``) when
  present; otherwise the crypto default :data:`CRYPTO_FEE_RATE`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.adapters.corpus.errors import CorpusError
from engine.adapters.corpus.layout import CorpusLayout
from engine.core.types import DOWN, UP, UPDOWN, Market

# The engine's crypto taker fee rate (engine.sim.MarketSimulator.fee_rate, conf/sim/*.yaml):
# fee per fill = shares * rate * p * (1 - p).
CRYPTO_FEE_RATE = 0.07
_UPDOWN_SLUG = re.compile(r"^(?P<coin>[a-z0-9]+)-updown-(?P<n>\d+)(?P<unit>[mhd])-(?P<epoch>\d+)$")
_WINDOW_UNIT_S = {"m": 60, "h": 3600, "d": 86400}
_CONDITION_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")
_UP_LABELS = {"up": 0, "yes": 0, "down": 1, "no": 1}  # label -> 0: the Up/Yes side, 1: Down/No


@dataclass(frozen=True, slots=True)
class CorpusMarket:
    """One binary Polymarket market as a corpus file describes it.

    ``market_id`` is Gamma's ``id``; ``up_token``/``down_token`` the CLOB token ids of the
    Up/Yes and Down/No outcomes (labels ``up_label``/``down_label``). ``strike_ts`` is the
    window start (``eventStartTime``; for an Up/Down slug without it, the slug's epoch; None for
    markets without a window) and ``expiry_ts`` the end (``endDate``), both epoch seconds.
    ``tick`` is ``orderPriceMinTickSize``, ``min_size`` ``orderMinSize`` (shares). ``symbol``
    (``"BTCUSDT"``) and ``window_s`` come from an ``<coin>-updown-<window>-<epoch>`` slug, None
    otherwise. ``outcome`` is ``UP``/``DOWN`` for a resolved market, None with the reason in
    ``unresolved`` otherwise. ``source`` is the file it was read from.
    """

    slug: str
    market_id: str
    condition_id: str
    question: str
    up_token: str
    down_token: str
    up_label: str
    down_label: str
    strike_ts: float | None
    expiry_ts: float
    tick: float
    min_size: float
    fee_rate: float
    fee_exponent: float
    neg_risk: bool
    symbol: str | None
    window_s: int | None
    outcome: str | None
    unresolved: str | None
    source: Path

    @property
    def resolved(self) -> bool:
        return self.outcome is not None

    def require_outcome(self) -> str:
        """``UP`` or ``DOWN``; raises :class:`CorpusError` naming the file if unresolved."""
        if self.outcome is None:
            raise CorpusError(
                self.source,
                "fields closed/outcomePrices",
                self.unresolved,
                'a resolved market: closed true and outcomePrices ["1","0"] or ["0","1"]',
            )
        return self.outcome

    def to_market(self, strike: float) -> Market:
        """The engine's :class:`~engine.core.types.Market` of this Up/Down market.

        ``strike`` is the settlement source's price at ``strike_ts`` (not in the Gamma file: the
        replay takes it from its price series).
        """
        if self.symbol is None or self.window_s is None or self.strike_ts is None:
            raise CorpusError(
                self.source,
                "field slug",
                self.slug,
                "an Up/Down slug <coin>-updown-<window>-<epoch>",
            )
        return Market(
            market_id=self.slug,
            symbol=self.symbol,
            window_s=self.window_s,
            start_ts=self.strike_ts,
            end_ts=self.expiry_ts,
            strike=float(strike),
            up_token=self.up_token,
            down_token=self.down_token,
            fee_rate=self.fee_rate,
            kind=UPDOWN,
        )


def parse_market(obj: Mapping[str, object], source: Path | str = "<memory>") -> CorpusMarket:
    """A :class:`CorpusMarket` from one Gamma market object; ``source`` names it in errors."""
    src = Path(source)
    if not isinstance(obj, Mapping):
        raise CorpusError(src, "", type(obj).__name__, "a JSON object (one Gamma market)")
    f = _Fields(obj, src)
    slug = f.text("slug")
    labels = f.string_list("outcomes", 2)
    tokens = f.string_list("clobTokenIds", 2)
    for token in tokens:
        if not token.isdigit():
            raise CorpusError(src, "field clobTokenIds", token, "decimal token id strings")
    up_i = _up_index(labels)
    condition_id = f.text("conditionId")
    if not _CONDITION_ID.match(condition_id):
        raise CorpusError(src, "field conditionId", condition_id, "0x followed by 64 hex digits")
    expiry = f.time("endDate")
    strike = f.time("eventStartTime", optional=True)
    symbol, window_s = _slug_window(slug, src, strike, expiry)
    if strike is None and window_s is not None:
        strike = expiry - window_s  # the slug's epoch (checked equal to it in _slug_window)
    rate, exponent = _fees(f)
    outcome, unresolved = _outcome(f, up_i)
    return CorpusMarket(
        slug=slug,
        market_id=str(f.get("id", "")),
        condition_id=condition_id,
        question=str(f.get("question", "")),
        up_token=tokens[up_i],
        down_token=tokens[1 - up_i],
        up_label=labels[up_i],
        down_label=labels[1 - up_i],
        strike_ts=strike,
        expiry_ts=expiry,
        tick=f.number("orderPriceMinTickSize", lo=0.0, hi=0.1, lo_open=True),
        min_size=f.number("orderMinSize", lo=0.0, lo_open=True),
        fee_rate=rate,
        fee_exponent=exponent,
        neg_risk=bool(f.get("negRisk", False)),
        symbol=symbol,
        window_s=window_s,
        outcome=outcome,
        unresolved=unresolved,
        source=src,
    )


def read_market(path: Path) -> CorpusMarket:
    """Read ``<slug>.json``; its ``slug`` must match the file name."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CorpusError(path, f"line {exc.lineno}", exc.msg, "valid JSON") from None
    market = parse_market(obj, path)
    if market.slug != path.stem:
        raise CorpusError(path, "field slug", market.slug, f"the file's name {path.stem!r}")
    return market


def iter_markets(
    corpus: CorpusLayout | Path, slugs: Iterable[str] | None = None
) -> Iterator[CorpusMarket]:
    """The corpus's markets (all, or those of ``slugs``), one file at a time, by slug."""
    layout = corpus if isinstance(corpus, CorpusLayout) else CorpusLayout(Path(corpus))
    for slug in layout.market_slugs() if slugs is None else slugs:
        yield read_market(layout.market_path(slug))


def split_resolved(
    markets: Iterable[CorpusMarket],
) -> tuple[list[CorpusMarket], list[CorpusMarket]]:
    """``(resolved, unresolved)``: the unresolved list is the report of markets without outcome."""
    resolved: list[CorpusMarket] = []
    unresolved: list[CorpusMarket] = []
    for m in markets:
        (resolved if m.resolved else unresolved).append(m)
    return resolved, unresolved


# -- helpers -------------------------------------------------------------------------------
class _Fields:
    """Typed access to a market object's fields, raising :class:`CorpusError` on bad values."""

    def __init__(self, obj: Mapping[str, object], src: Path) -> None:
        self.obj, self.src = obj, src

    def get(self, name: str, default: object = None) -> object:
        return self.obj.get(name, default)

    def _missing(self, name: str, expected: str) -> CorpusError:
        return CorpusError(self.src, f"field {name}", self.obj.get(name), expected)

    def text(self, name: str) -> str:
        value = self.obj.get(name)
        if not isinstance(value, str) or not value:
            raise self._missing(name, "a non-empty string")
        return value

    def string_list(self, name: str, n: int) -> list[str]:
        """A list of ``n`` strings, sent as a JSON-encoded string or as a real array."""
        value = self.obj.get(name)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise self._missing(name, f"a JSON array of {n} strings") from None
        if not isinstance(value, list) or len(value) != n:
            raise self._missing(name, f"a JSON array of {n} strings")
        out = []
        for v in value:
            if isinstance(v, bool) or not isinstance(v, str | int):
                raise self._missing(name, f"a JSON array of {n} strings")
            out.append(str(v))
        return out

    def time(self, name: str, *, optional: bool = False) -> float | None:
        value = self.obj.get(name)
        if value is None and optional:
            return None
        expected = "an ISO-8601 UTC time like 2026-03-12T09:20:00Z"
        if not isinstance(value, str):
            raise self._missing(name, expected)
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise self._missing(name, expected) from None
        if dt.tzinfo is None or dt.utcoffset().total_seconds() != 0:
            raise self._missing(name, expected)
        return dt.timestamp()

    def number(
        self, name: str, *, lo: float = -math.inf, hi: float = math.inf, lo_open: bool = False
    ) -> float:
        value = self.obj.get(name)
        try:
            x = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            x = math.nan
        ok = (lo < x if lo_open else lo <= x) and x <= hi and not isinstance(value, bool)
        if not ok:
            left = "(" if lo_open else "["
            raise self._missing(name, f"a number in {left}{lo:g}, {hi:g}]")
        return x


def _up_index(labels: list[str]) -> int:
    """Index of the Up/Yes outcome: by label for Up/Down or Yes/No, else the first outcome."""
    sides = [_UP_LABELS.get(label.strip().lower()) for label in labels]
    if sides in ([0, 1], [1, 0]):
        return sides.index(0)
    return 0


def _slug_window(
    slug: str, src: Path, strike: float | None, expiry: float
) -> tuple[str | None, int | None]:
    """``(symbol, window_s)`` of an Up/Down slug, cross-checked against the file's times."""
    m = _UPDOWN_SLUG.match(slug)
    if not m:
        return None, None
    window_s = int(m["n"]) * _WINDOW_UNIT_S[m["unit"]]
    epoch = int(m["epoch"])
    if strike is not None and strike != epoch:
        raise CorpusError(
            src, "field eventStartTime", strike, f"the slug's window start {epoch} (epoch s)"
        )
    if expiry - epoch != window_s:
        raise CorpusError(
            src, "field endDate", expiry, f"window start {epoch} + {window_s} s (from the slug)"
        )
    return f"{m['coin'].upper()}USDT", window_s


def _fees(f: _Fields) -> tuple[float, float]:
    """``(rate, exponent)``: none if fees are off, else the fee schedule's, else the crypto default."""
    if f.get("feesEnabled") is False:
        return 0.0, 1.0
    schedule = f.get("feeSchedule")
    if schedule is not None:
        if not isinstance(schedule, Mapping):
            raise f._missing("feeSchedule", "an object with rate and exponent")
        sf = _Fields(schedule, f.src)
        rate = sf.number("rate", lo=0.0, hi=1.0)
        exponent = sf.number("exponent", lo=0.0, hi=10.0) if "exponent" in schedule else 1.0
        return rate, exponent
    return CRYPTO_FEE_RATE, 1.0


def _outcome(f: _Fields, up_i: int) -> tuple[str | None, str | None]:
    """``(UP or DOWN, None)`` for a 1/0 closed market, else ``(None, why)``."""
    closed = f.get("closed")
    if not isinstance(closed, bool):
        raise f._missing("closed", "true or false")
    raw = f.get("outcomePrices")
    if raw is None:
        return None, f"no outcomePrices (closed={str(closed).lower()})"
    prices_text = f.string_list("outcomePrices", 2)
    try:
        prices = [float(p) for p in prices_text]
    except ValueError:
        raise f._missing("outcomePrices", "two decimal prices") from None
    if not closed:
        return None, f"not closed (closed=false, outcomePrices={prices_text})"
    up, down = prices[up_i], prices[1 - up_i]
    if (up, down) == (1.0, 0.0):
        return UP, None
    if (up, down) == (0.0, 1.0):
        return DOWN, None
    return None, f"closed without a 1/0 outcome (outcomePrices={prices_text}: 50-50 or unsettled)"
