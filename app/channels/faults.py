"""Seeded fault plans for the sandbox twins: what a flaky network and a busy platform do.

A :class:`FaultPlan` says how often each kind of fault hits the API requests of a
sandbox (:mod:`app.channels.sandbox_http` applies it; every twin gets it for free):

========== ===================================================================
kind       what the client sees
========== ===================================================================
500/502/503 that HTTP status with a small JSON error body
429        HTTP 429 with ``Retry-After``, ``X-RateLimit-Remaining: 0`` and a reset
reset      the connection is reset without an answer
truncate   the real answer's headers, then half of its body, then the connection closes
malformed  the real answer's status with a body that is not JSON
latency    the real answer, ``latency_ms`` later (not an error)
timeout    no answer until the client gives up (at most ``timeout_s``), then a close
reorder    a list answer whose items are shuffled, or whose window slid back one item
           for the rest of the paging pass (as if a row was inserted in front)
========== ===================================================================

Errors can land *before* the sandbox runs the request or *after* it applied it (the
answer is lost on the way back): ``lost`` is the share of 5xx/reset/timeout faults on
write requests that land after. ``truncate`` and ``malformed`` always land after, 429
always before. Reads are never "lost": running a read changes nothing.

Decisions are deterministic: a hash of the seed, the request (method, path, query) and
how many times that same request was seen before. The same seed and the same requests
give the same faults whatever the thread timing, and a retried request draws afresh.

The compact spec (``stockbridge sandbox serve PLATFORM --faults SPEC``)::

    rate=0.2,kinds=500+502+503+429+reset+truncate+malformed+latency+timeout+reorder,seed=7

Keys, comma-separated ``key=value``:

* ``rate`` — total fault probability per request, split evenly over ``kinds``
  (default: every kind);
* ``<kind>=R`` — one kind's own probability (e.g. ``503=0.05,reset=0.01``), replacing
  its share of ``rate``;
* ``seed``, ``latency_ms`` (50), ``timeout_s`` (2), ``retry_after_s`` (1), ``lost`` (0.5),
  ``delay_ms`` (0: latency added to *every* matching request, not counted as a fault),
  ``max`` (stop after that many faults);
* ``paths=/orders+/products`` — only requests whose path contains one of these;
  ``methods=GET+PUT`` — only these methods; ``reorder=shuffle+shift`` — reorder modes
  (a number after ``reorder=`` is the kind's rate, words are its modes).

``off`` or an empty spec is a plan without faults.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

ERROR_KINDS: tuple[str, ...] = ("500", "502", "503")
FAULT_KINDS: tuple[str, ...] = (
    *ERROR_KINDS,
    "429",
    "reset",
    "truncate",
    "malformed",
    "latency",
    "timeout",
    "reorder",
)
REORDER_MODES: tuple[str, ...] = ("shuffle", "shift")
# Kinds that may land after the sandbox applied a write (the answer is lost).
LOSABLE_KINDS = frozenset({*ERROR_KINDS, "reset", "timeout"})
# Kinds that need the real answer, so the request always runs first.
AFTER_KINDS = frozenset({"truncate", "malformed", "reorder"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_NUMBER_KEYS = {
    "seed": "seed",
    "latency_ms": "latency_ms",
    "timeout_s": "timeout_s",
    "retry_after_s": "retry_after_s",
    "lost": "lost",
    "delay_ms": "delay_ms",
    "max": "max_faults",
}
# Upper bounds keep a typo from freezing a test run or a demo for hours.
_MAX_LATENCY_MS = 60_000.0
_MAX_TIMEOUT_S = 300.0


class FaultSpecError(ValueError):
    """A fault spec or plan that cannot be used; the message names the bad part."""


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What the plan decided for one request."""

    kind: str
    lost: bool  # the fault lands after the sandbox applied the request
    roll: int  # extra deterministic randomness (shuffle seed, malformed variant)
    mode: str = ""  # for reorder: "shuffle" or "shift"


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Rates per fault kind plus the knobs of each kind. Immutable; see the module doc."""

    rates: Mapping[str, float] = field(default_factory=dict)
    seed: int = 0
    latency_ms: float = 50.0
    timeout_s: float = 2.0
    retry_after_s: float = 1.0
    lost: float = 0.5
    delay_ms: float = 0.0
    paths: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    reorder_modes: tuple[str, ...] = REORDER_MODES
    max_faults: int | None = None

    def __post_init__(self) -> None:
        rates = {str(k): float(v) for k, v in dict(self.rates).items()}
        for kind, rate in rates.items():
            if kind not in FAULT_KINDS:
                raise FaultSpecError(
                    f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}"
                )
            if not math.isfinite(rate) or not 0.0 <= rate <= 1.0:
                raise FaultSpecError(f"the rate of {kind} must be between 0 and 1 (got {rate})")
        if sum(rates.values()) > 1.0 + 1e-9:
            raise FaultSpecError(
                f"the fault rates add up to {sum(rates.values()):g}; at most 1 is possible"
            )
        # Canonical order, zero rates dropped: equal plans compare equal.
        object.__setattr__(
            self, "rates", {k: rates[k] for k in FAULT_KINDS if rates.get(k, 0.0) > 0.0}
        )
        _check_range("latency_ms", self.latency_ms, 0.0, _MAX_LATENCY_MS)
        _check_range("delay_ms", self.delay_ms, 0.0, _MAX_LATENCY_MS)
        _check_range("timeout_s", self.timeout_s, 0.0, _MAX_TIMEOUT_S)
        _check_range("retry_after_s", self.retry_after_s, 0.0, 3600.0)
        _check_range("lost", self.lost, 0.0, 1.0)
        if self.max_faults is not None and self.max_faults < 0:
            raise FaultSpecError("max must be 0 or more")
        modes = tuple(self.reorder_modes)
        unknown = [m for m in modes if m not in REORDER_MODES]
        if unknown or not modes:
            raise FaultSpecError(
                f"reorder modes are {' and '.join(REORDER_MODES)} (got {'+'.join(modes) or 'none'})"
            )
        object.__setattr__(self, "reorder_modes", modes)
        object.__setattr__(self, "paths", tuple(str(p) for p in self.paths if str(p)))
        object.__setattr__(self, "methods", tuple(str(m).upper() for m in self.methods if m))
        object.__setattr__(self, "seed", int(self.seed))

    # ------------------------------------------------------------------ building
    @classmethod
    def uniform(cls, rate: float, kinds: Iterable[str] = FAULT_KINDS, **options: Any) -> FaultPlan:
        """``rate`` split evenly over ``kinds``; ``options`` are the other fields."""
        chosen = _unique(kinds)
        if not chosen:
            raise FaultSpecError("name at least one fault kind")
        share = float(rate) / len(chosen)
        return cls(rates=dict.fromkeys(chosen, share), **options)

    @classmethod
    def parse(cls, spec: str | None) -> FaultPlan:
        """Read the compact spec described in the module doc."""
        text = (spec or "").strip()
        if text.lower() in ("", "off", "none"):
            return cls()
        total: float | None = None
        kinds: list[str] | None = None
        own: dict[str, float] = {}
        options: dict[str, Any] = {}
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, value = part.partition("=")
            key, value = key.strip().lower(), value.strip()
            if not sep or not value:
                raise FaultSpecError(f"{part!r} is not key=value")
            if key == "rate":
                total = _float(key, value)
            elif key == "kinds":
                kinds = _plus_list(value)
            elif key == "reorder" and not _is_number(value):
                # reorder=0.1 is the kind's rate; reorder=shuffle+shift names its modes.
                options["reorder_modes"] = tuple(_plus_list(value))
            elif key in FAULT_KINDS:
                own[key] = _float(key, value)
            elif key in ("paths", "methods"):
                options[key] = tuple(_plus_list(value))
            elif key in _NUMBER_KEYS:
                number = _float(key, value)
                if key in ("seed", "max"):
                    if not number.is_integer():
                        raise FaultSpecError(f"{key} must be a whole number (got {value})")
                    number = int(number)
                options[_NUMBER_KEYS[key]] = number
            else:
                raise FaultSpecError(
                    f"unknown key {key!r}; use rate, kinds, a fault kind"
                    f" ({', '.join(FAULT_KINDS)}), seed, latency_ms, timeout_s,"
                    " retry_after_s, lost, delay_ms, max, paths, methods or reorder"
                )
        if kinds is not None:
            bad = [k for k in kinds if k not in FAULT_KINDS]
            if bad:
                raise FaultSpecError(
                    f"unknown fault kind {bad[0]!r}; known: {', '.join(FAULT_KINDS)}"
                )
        rates: dict[str, float] = {}
        if total is not None:
            shared = [k for k in (kinds or FAULT_KINDS) if k not in own]
            left = total - sum(own.values())
            if shared and left < -1e-9:
                raise FaultSpecError("the per-kind rates exceed the total rate")
            if shared:
                rates |= dict.fromkeys(shared, max(0.0, left) / len(shared))
        elif kinds is not None and not own:
            raise FaultSpecError("kinds needs a rate (e.g. rate=0.2,kinds=500+reset)")
        rates |= own
        return cls(rates=rates, **options)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultPlan:
        """A plan from JSON: ``{"spec": "..."}`` or the fields of :meth:`as_dict`."""
        if not isinstance(data, Mapping):
            raise FaultSpecError("a fault plan is a JSON object")
        if "spec" in data:
            if set(data) != {"spec"}:
                raise FaultSpecError("send either a spec or the plan's fields, not both")
            spec = data["spec"]
            if not isinstance(spec, str):
                raise FaultSpecError("spec must be a string")
            return cls.parse(spec)
        known = {
            "rates",
            "seed",
            "latency_ms",
            "timeout_s",
            "retry_after_s",
            "lost",
            "delay_ms",
            "paths",
            "methods",
            "reorder_modes",
            "max_faults",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultSpecError(f"unknown fault plan fields: {', '.join(unknown)}")
        fields = dict(data)
        rates = fields.pop("rates", {}) or {}
        if not isinstance(rates, Mapping):
            raise FaultSpecError("rates must be an object of kind → probability")
        for key in ("paths", "methods", "reorder_modes"):
            if key in fields:
                value = fields[key]
                if isinstance(value, str) or not isinstance(value, list | tuple):
                    raise FaultSpecError(f"{key} must be a list of strings")
                fields[key] = tuple(str(v) for v in value)
        for key in ("seed", "latency_ms", "timeout_s", "retry_after_s", "lost", "delay_ms"):
            if key in fields and (
                isinstance(fields[key], bool) or not isinstance(fields[key], int | float)
            ):
                raise FaultSpecError(f"{key} must be a number")
        max_faults = fields.get("max_faults")
        if max_faults is not None and (
            isinstance(max_faults, bool) or not isinstance(max_faults, int)
        ):
            raise FaultSpecError("max_faults must be a whole number or null")
        try:
            return cls(rates={str(k): _as_rate(k, v) for k, v in rates.items()}, **fields)
        except TypeError as exc:  # a wrong value type inside the dataclass
            raise FaultSpecError(str(exc)) from None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rates": dict(self.rates),
            "seed": self.seed,
            "latency_ms": self.latency_ms,
            "timeout_s": self.timeout_s,
            "retry_after_s": self.retry_after_s,
            "lost": self.lost,
            "delay_ms": self.delay_ms,
            "paths": list(self.paths),
            "methods": list(self.methods),
            "reorder_modes": list(self.reorder_modes),
            "max_faults": self.max_faults,
        }

    def to_spec(self) -> str:
        """The compact spec of this plan (``parse(plan.to_spec()) == plan``)."""
        if not self.rates and not self.delay_ms:
            return "off"
        parts = [f"{kind}={_fmt(rate)}" for kind, rate in self.rates.items()]
        defaults = FaultPlan()
        parts.append(f"seed={self.seed}")
        for key, attr in _NUMBER_KEYS.items():
            if attr == "seed":
                continue
            value = getattr(self, attr)
            if value != getattr(defaults, attr):
                parts.append(f"{key}={_fmt(value)}")
        if self.paths:
            parts.append("paths=" + "+".join(self.paths))
        if self.methods:
            parts.append("methods=" + "+".join(self.methods))
        if self.reorder_modes != REORDER_MODES:
            parts.append("reorder=" + "+".join(self.reorder_modes))
        return ",".join(parts)

    def with_seed(self, seed: int) -> FaultPlan:
        return replace(self, seed=seed)

    # ------------------------------------------------------------------ deciding
    @property
    def total_rate(self) -> float:
        return sum(self.rates.values())

    @property
    def active(self) -> bool:
        """True when the plan can change anything (faults or an added delay)."""
        return bool(self.rates) or self.delay_ms > 0

    def matches(self, method: str, path: str) -> bool:
        """Whether a request is subject to this plan at all (control routes never are)."""
        if self.methods and method.upper() not in self.methods:
            return False
        return not self.paths or any(part in path for part in self.paths)

    def decide(self, method: str, path: str, query: str, occurrence: int) -> FaultDecision | None:
        """The fault for the ``occurrence``-th sight (0-based) of this request, if any."""
        if not self.rates:
            return None
        digest = hashlib.blake2b(
            f"{self.seed}\x00{method.upper()}\x00{path}\x00{query}\x00{occurrence}".encode(),
            digest_size=24,
        ).digest()
        pick = int.from_bytes(digest[0:8], "big") / 2.0**64
        lost_roll = int.from_bytes(digest[8:16], "big") / 2.0**64
        roll = int.from_bytes(digest[16:24], "big")
        edge = 0.0
        for kind, rate in self.rates.items():
            edge += rate
            if pick < edge:
                write = method.upper() not in READ_METHODS
                lost = kind in LOSABLE_KINDS and write and lost_roll < self.lost
                mode = (
                    self.reorder_modes[roll % len(self.reorder_modes)] if kind == "reorder" else ""
                )
                return FaultDecision(kind=kind, lost=lost, roll=roll, mode=mode)
        return None


def _check_range(name: str, value: float, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FaultSpecError(f"{name} must be a number")
    if not lo <= value <= hi:
        raise FaultSpecError(f"{name} must be between {lo:g} and {hi:g} (got {value:g})")


def _float(key: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise FaultSpecError(f"{key} must be a number (got {value!r})") from None
    if not math.isfinite(number):
        raise FaultSpecError(f"{key} must be a finite number (got {value!r})")
    return number


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _as_rate(kind: Any, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultSpecError(f"the rate of {kind} must be a number")
    return float(value)


def _plus_list(value: str) -> list[str]:
    return _unique(part.strip() for part in value.split("+"))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))


def _fmt(value: float) -> str:
    """Shortest text that reads back as the same number (so specs round-trip)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


__all__ = [
    "ERROR_KINDS",
    "FAULT_KINDS",
    "FaultDecision",
    "FaultPlan",
    "FaultSpecError",
    "REORDER_MODES",
]
