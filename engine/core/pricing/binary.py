"""Cash-or-nothing (binary) option prices, Greeks and implied volatility.

A Polymarket Up/Down token is a cash-or-nothing option paying 1 at expiry:
the Up token is a binary call (pays if ``S_T >= K``, Up wins ties) and the
Down token a binary put (pays if ``S_T < K``). Under Black-Scholes-Merton

    d2 = (ln(S/K) + (r - q - sigma**2/2) T) / (sigma sqrt(T)),   d1 = d2 + sigma sqrt(T)
    call = exp(-rT) N(d2),   put = exp(-rT) N(-d2)

Units: ``T`` in years of 365 days (crypto trades around the clock), ``sigma``
annualised (0.5 is 50 %), ``r`` and ``q`` continuously compounded per year.
Raw Greeks are per unit of the input: ``delta`` per 1 unit of ``S``,
``gamma`` per unit ``S**2``, ``vega`` per 1.00 of ``sigma``, ``theta`` is
``-dV/dT`` per year (the value change as one year of calendar time passes).
:func:`scaled_greeks` turns them into trader units. All functions broadcast
their array arguments like numpy ufuncs and never loop per element.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr, ndtri

__all__ = [
    "MINUTES_PER_YEAR",
    "SECONDS_PER_YEAR",
    "Greeks",
    "ScaledGreeks",
    "gamma_norm",
    "implied_vol",
    "price_greeks",
    "scaled_greeks",
]

SECONDS_PER_YEAR = 365 * 86400
MINUTES_PER_YEAR = 525600

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

FloatArray = NDArray[np.float64]


class Greeks(NamedTuple):
    """Price and raw Greeks of a binary paying 1 (arrays, broadcast shape).

    ``price`` in payout units (a probability times ``exp(-rT)``), ``delta``
    = dV/dS per 1 unit of S, ``gamma`` = d2V/dS2 per unit S**2, ``vega`` =
    dV/dsigma per 1.00 of sigma, ``theta`` = -dV/dT per year.
    """

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray


class ScaledGreeks(NamedTuple):
    """Greeks in trader units (see :func:`scaled_greeks`)."""

    delta_1pct: FloatArray
    gamma_1pct: FloatArray
    vega_1pt: FloatArray
    theta_1min: FloatArray


def _kind_sign(kind: str) -> float:
    if isinstance(kind, str):
        if kind == "call":
            return 1.0
        if kind == "put":
            return -1.0
    raise ValueError(f"kind={kind!r} must be 'call' or 'put'")


def _as_float(a: ArrayLike) -> FloatArray:
    return np.asarray(a, dtype=np.float64)


def _raise_first(name: str, a: FloatArray, bad: NDArray[np.bool_], rule: str) -> None:
    """Raise ValueError naming ``name``, the first index where ``bad`` holds and the value."""
    flat = int(np.argmax(bad.ravel()))
    value = float(a.ravel()[flat])
    if a.ndim == 0:
        where = name
    elif a.ndim == 1:
        where = f"{name}[{flat}]"
    else:
        idx = np.unravel_index(flat, a.shape)
        where = f"{name}[{', '.join(str(int(i)) for i in idx)}]"
    raise ValueError(f"{where}={value!r} must be {rule}")


def _all_above(a: FloatArray, bound: float) -> bool:
    """True when every element is > bound; a NaN makes it False (callers then look closer)."""
    return a.size == 0 or bool(np.min(a) > bound)


def _require_positive(name: str, a: FloatArray) -> None:
    if _all_above(a, 0.0):  # one reduction on the common path
        return
    bad = a <= 0.0  # NaN compares False: NaN passes through, it never raises
    if bad.any():
        _raise_first(name, a, bad, "> 0")


def _require_nonnegative(name: str, a: FloatArray) -> None:
    if a.size == 0 or bool(np.min(a) >= 0.0):
        return
    bad = a < 0.0
    if bad.any():
        _raise_first(name, a, bad, ">= 0")


# Elements per block: temporaries of 2**15 doubles (256 KiB) stay in cache, which
# roughly halves the time of the long chain of elementwise steps on large inputs.
_BLOCK = 1 << 15


def price_greeks(
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike = 0.0,
    q: ArrayLike = 0.0,
    kind: str = "call",
) -> Greeks:
    """Price and Greeks of a cash-or-nothing binary paying 1.

    Parameters
    ----------
    S, K : array_like
        Spot and strike, > 0 (ValueError naming the first bad element).
    T : array_like
        Time to expiry in years (365-day year); ``T <= 0`` means expired.
    sigma : array_like
        Annualised volatility, >= 0.
    r, q : array_like
        Continuously compounded rate and dividend (funding) yield per year.
    kind : {"call", "put"}
        "call" is the Up token, "put" the Down token.

    Returns
    -------
    Greeks
        ``price``, ``delta`` (per unit S), ``gamma`` (per unit S**2),
        ``vega`` (per 1.00 of sigma), ``theta`` (-dV/dT per year), each a
        float array of the broadcast shape.

    Notes
    -----
    Degenerate inputs: at expiry (``T <= 0``) the price is the payoff (the
    call pays if ``S >= K``, the put if ``S < K``); with ``sigma == 0`` and
    ``T > 0`` the spot follows its forward deterministically and the call
    is worth ``exp(-rT)`` if ``S exp((r-q)T) >= K``, else 0. Greeks are 0 in
    both cases. A NaN in any input gives NaN in every output of that element.
    """
    sign = _kind_sign(kind)
    args = tuple(_as_float(a) for a in (S, K, T, sigma, r, q))
    S, K, T, sigma, r, q = args
    _require_positive("S", S)
    _require_positive("K", K)
    _require_nonnegative("sigma", sigma)
    shape = np.broadcast_shapes(*(a.shape for a in args))
    n = math.prod(shape)
    out = Greeks(*(np.empty(n) for _ in Greeks._fields))
    flat = [_flatten(a, shape) for a in args]
    # r = q = 0 (the default) skips the rate terms; a 0-d check is cheaper than np.any.
    has_r = bool(r != 0.0) if r.ndim == 0 else bool(np.any(r != 0.0))
    has_mu = bool(r != q) if r.ndim == 0 and q.ndim == 0 else bool(np.any(r != q))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if n <= _BLOCK:  # one block: no slicing
            _closed_form_into(list(out), *flat, sign, has_r, has_mu)
        else:
            for lo in range(0, n, _BLOCK):
                hi = min(lo + _BLOCK, n)
                block = [a if a.ndim == 0 else a[lo:hi] for a in flat]
                _closed_form_into([o[lo:hi] for o in out], *block, sign, has_r, has_mu)
        out = Greeks(*(o.reshape(shape) for o in out))
        if not (_all_above(T, 0.0) and _all_above(sigma, 0.0)):
            mask = np.broadcast_to(T <= 0.0, shape) | np.broadcast_to(sigma == 0.0, shape)
            if mask.any():
                _fill_degenerate(out, mask, *args, sign, shape)
    return out


def _flatten(a: FloatArray, shape: tuple[int, ...]) -> FloatArray:
    """A 0-d array for a single value, else a 1-d array in the broadcast layout."""
    if a.size == 1:
        return a.reshape(())
    if a.shape != shape:
        a = np.broadcast_to(a, shape)
    return a.reshape(-1)  # a view when already contiguous


def _closed_form_into(
    out: list[FloatArray],
    S: FloatArray,
    K: FloatArray,
    T: FloatArray,
    sigma: FloatArray,
    r: FloatArray,
    q: FloatArray,
    sign: float,
    has_r: bool,
    has_mu: bool,
) -> None:
    """The textbook formulas on one block, written into ``out`` (1-d, one block long).

    With w = sigma sqrt(T), phi = N'(d2), D = exp(-rT), s = +1 call / -1 put:
    delta = s D phi / (S w), gamma = -delta d1 / (S w), vega = -s D phi d1 / sigma,
    theta = r V + s D phi (d1 / (2T) - (r - q) / w). Each transcendental once.
    """
    price, delta, gamma, vega, theta = out
    w = sigma * np.sqrt(T)
    d2 = np.divide(S, K, out=np.empty_like(price))
    np.log(d2, out=d2)
    if has_mu:
        d2 += (r - q) * T
    d2 /= w
    d2 -= 0.5 * w
    neg_d1 = np.add(d2, w, out=np.empty_like(d2))
    np.negative(neg_d1, out=neg_d1)
    ndtr(np.negative(d2, out=price) if sign < 0 else d2, out=price)
    sdphi = np.square(d2, out=d2)  # d2 is not needed any more: s D phi(d2) in its place
    sdphi *= -0.5
    np.exp(sdphi, out=sdphi)
    sdphi *= sign * _INV_SQRT_2PI
    if has_r:
        disc = np.exp(-r * T)
        price *= disc
        sdphi *= disc
    sw = S * w
    np.divide(sdphi, sw, out=delta)
    np.multiply(delta, neg_d1, out=gamma)
    gamma /= sw
    np.multiply(sdphi, neg_d1, out=vega)
    vega /= sigma
    np.multiply(neg_d1, -0.5, out=theta)
    theta /= T
    if has_mu:
        theta -= (r - q) / w
    theta *= sdphi
    if has_r:
        theta += r * price


def _fill_degenerate(
    out: Greeks,
    mask: NDArray[np.bool_],
    S: FloatArray,
    K: FloatArray,
    T: FloatArray,
    sigma: FloatArray,
    r: FloatArray,
    q: FloatArray,
    sign: float,
    shape: tuple[int, ...],
) -> None:
    """Overwrite expired (T <= 0) and zero-vol elements with payoff / forward values."""
    Sm, Km, Tm, sm, rm, qm = (np.broadcast_to(a, shape)[mask] for a in (S, K, T, sigma, r, q))
    expired = Tm <= 0.0
    t_live = np.where(expired, 0.0, Tm)
    # Forward >= strike, written in logs like d2 so the tie goes the same way.
    fwd_up = np.log(Sm / Km) + (rm - qm) * t_live >= 0.0
    up = np.where(expired, Sm >= Km, fwd_up)
    wins = up if sign > 0 else ~up
    value = np.exp(-rm * t_live) * wins
    nan = np.isnan(Sm) | np.isnan(Km) | np.isnan(Tm) | np.isnan(sm) | np.isnan(rm) | np.isnan(qm)
    value[nan] = np.nan
    zero = np.where(nan, np.nan, 0.0)
    out.price[mask] = value
    for greek in out[1:]:
        greek[mask] = zero


def scaled_greeks(greeks: Greeks, S: ArrayLike) -> ScaledGreeks:
    """Greeks in trader units, for a binary paying 1.

    ``delta_1pct = delta * S / 100``: price change for a 1 % move up in spot.
    ``gamma_1pct = gamma * (S / 100)**2``: change of ``delta_1pct`` for a
    further 1 % move. ``vega_1pt = vega / 100``: price change per one vol
    point (sigma + 0.01). ``theta_1min = theta / 525600``: price change as
    one minute passes.
    """
    S = _as_float(S)
    s_1pct = 0.01 * S
    return ScaledGreeks(
        delta_1pct=np.asarray(greeks.delta * s_1pct),
        gamma_1pct=np.asarray(greeks.gamma * (s_1pct * s_1pct)),
        vega_1pt=np.asarray(0.01 * greeks.vega),
        theta_1min=np.asarray(greeks.theta / MINUTES_PER_YEAR),
    )


def gamma_norm(gamma_1pct: ArrayLike) -> FloatArray:
    """``min(|gamma_1pct| / 20, 2)``: 1.0 means a 1 % move shifts ``delta_1pct`` by 20.

    Dimensionless, capped at 2; NaN stays NaN.
    """
    return np.asarray(np.minimum(np.abs(_as_float(gamma_1pct)) / 20.0, 2.0))


def implied_vol(
    price: ArrayLike,
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike = 0.0,
    q: ArrayLike = 0.0,
    kind: str = "call",
) -> FloatArray:
    """Annualised sigma that reproduces a binary's price, in closed form.

    A binary's price is not monotone in sigma. With ``x = ln(F/K)``,
    ``F = S exp((r-q)T)`` and ``w = sigma sqrt(T)``, ``d2 = x/w - w/2``:

    * ``x > 0``: d2 falls from +inf to -inf as w grows, one root;
    * ``x = 0``: ``d2 = -w/2 < 0``, so a call needs ``price < exp(-rT)/2``
      (a put ``> exp(-rT)/2``), one root;
    * ``x < 0``: d2 peaks at ``w* = sqrt(2|x|)`` with value ``-sqrt(2|x|)``;
      the call (put) price has a maximum ``exp(-rT) N(-sqrt(2|x|))``
      (minimum ``exp(-rT) N(sqrt(2|x|))``), beyond which no sigma exists,
      and two roots inside.

    **Branch.** Where two roots exist this returns the one with
    ``sigma sqrt(T) < sqrt(2 |ln(F/K)|)`` (equivalently ``d1 < 0``), the
    realistic one for 5-60 minute windows unless spot sits within about
    ``sigma**2 T / 2`` (log terms) of the strike.

    The root solves ``w**2/2 + d2 w - x = 0`` with ``d2 = ndtri(price
    exp(rT))`` (call) or ``-ndtri(price exp(rT))`` (put), in the
    cancellation-free form. Returns NaN where no sigma reproduces the
    price (outside ``[0, exp(-rT)]``, beyond the extremum, ``T <= 0``) and
    0 where only ``sigma = 0`` does and small sigmas come arbitrarily close
    (off the strike: the call at ``exp(-rT)`` in the money, at 0 out of it).
    At the strike (``x = 0``) the call at ``exp(-rT)`` and the put at 0 are
    NaN too: only the tie rule at ``sigma = 0`` exactly gives them (Up wins
    ties), every ``sigma > 0`` prices the call under ``exp(-rT)/2``, so no
    volatility explains them. ``S``, ``K`` must be > 0.
    """
    sign = _kind_sign(kind)
    price, S, K, T, r, q = (_as_float(a) for a in (price, S, K, T, r, q))
    _require_positive("S", S)
    _require_positive("K", K)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x = np.log(S / K)
        if np.any(r != q):
            x = x + (r - q) * T
        u = price * np.exp(r * T) if np.any(r != 0.0) else price
        d2 = ndtri(u)
        if sign < 0:
            d2 = -d2
        s = np.sqrt(d2 * d2 + 2.0 * x)  # NaN beyond the extremum: no real root
        t = s - d2  # > 0 without cancellation where d2 <= 0
        w = np.where(d2 > 0.0, 2.0 * x / (d2 + s), np.where(x < 0.0, -2.0 * x / t, t))
        # x < 0 caps d2 below 0; x == 0 needs d2 < 0 (d2 = inf there is the tie rule's price
        # at sigma = 0 alone, no limit of sigma > 0: no root either).
        no_root = ((d2 > 0.0) & (x < 0.0)) | ((x == 0.0) & (d2 >= 0.0))
        sigma = w / np.sqrt(T)
        return np.where(no_root | ~np.isfinite(sigma), np.nan, sigma)
