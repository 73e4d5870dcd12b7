"""Offline tests of the full-catalogue stock push planner."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.channels.sello.planning import (
    StockPushCandidate,
    plan_stock_pushes,
    sello_quantity,
)
from app.core.models import ChannelListing


def candidate(
    pid: int, target: float, shown: float | None, changed: float | None = None
) -> StockPushCandidate:
    listing = ChannelListing(str(pid), str(pid), None, f"SKU-{pid}", f"Product {pid}", shown)
    return StockPushCandidate(listing=listing, quantity=target, changed_at=changed)


def ids(waves: list[list[StockPushCandidate]]) -> list[list[str]]:
    return [[item.listing.external_id for item in wave] for wave in waves]


def test_nothing_to_push_is_an_empty_plan():
    assert plan_stock_pushes([], 30) == []
    assert plan_stock_pushes([candidate(1, 5, 5.0)], 30) == []


def test_budget_must_allow_a_call():
    with pytest.raises(ValueError):
        plan_stock_pushes([candidate(1, 1, 2)], 0)


def test_waves_hold_at_most_the_budget():
    items = [candidate(i, 50, 40, changed=1000 + i) for i in range(70)]
    waves = plan_stock_pushes(items, 30)
    assert [len(wave) for wave in waves] == [30, 30, 10]
    # All in the same tier: the most recent change goes first.
    assert ids(waves)[0][:3] == ["69", "68", "67"]


def test_sell_outs_then_near_zero_then_most_recent_change():
    items = [
        candidate(1, 40, 30, changed=5000),  # big stock, most recent change
        candidate(2, 0, 4, changed=100),  # sold out, Sello still offers 4
        candidate(3, 2, 9, changed=200),  # near zero
        candidate(4, 25, 20, changed=4000),
        candidate(5, 6, 0, changed=300),  # Sello shows 0 but stock is back
        candidate(6, 0, None, changed=50),  # unknown on Sello, now zero
        candidate(7, 3, 3, changed=9999),  # unchanged: costs nothing, is dropped
    ]
    (wave,) = plan_stock_pushes(items, 30)
    assert [c.listing.external_id for c in wave] == ["2", "6", "5", "3", "1", "4"]


def test_decreases_go_before_increases_at_the_same_moment():
    items = [candidate(1, 20, 10, changed=700), candidate(2, 20, 30, changed=700)]
    assert ids(plan_stock_pushes(items, 1)) == [["2"], ["1"]]


def test_unknown_change_time_sorts_as_oldest_and_ids_break_ties():
    items = [candidate(9, 50, 10), candidate(8, 50, 10), candidate(1, 50, 10, changed=1.0)]
    assert ids(plan_stock_pushes(items, 10)) == [["1", "8", "9"]]


def test_the_last_candidate_of_a_listing_wins():
    items = [candidate(1, 10, 4, changed=10), candidate(1, 4, 4, changed=20)]
    assert plan_stock_pushes(items, 5) == []  # the newer target equals what Sello shows
    items.append(candidate(1, 0, 4, changed=30))
    (wave,) = plan_stock_pushes(items, 5)
    assert [(c.listing.external_id, c.target) for c in wave] == [("1", 0)]


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [(7.0, 7), (7.9, 7), (0.5, 0), (-3, 0), (float("nan"), 0), (2.9999999999, 3)],
)
def test_sello_keeps_whole_units_rounded_down(quantity, expected):
    assert sello_quantity(quantity) == expected


def test_fractional_stock_that_rounds_to_what_sello_shows_is_not_pushed():
    assert plan_stock_pushes([candidate(1, 4.6, 4.0)], 5) == []


_candidates = st.lists(
    st.builds(
        candidate,
        pid=st.integers(min_value=1, max_value=60),
        target=st.integers(min_value=-2, max_value=40),
        shown=st.one_of(st.none(), st.integers(min_value=0, max_value=40).map(float)),
        changed=st.one_of(st.none(), st.floats(min_value=0, max_value=1e6)),
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(items=_candidates, budget=st.integers(min_value=1, max_value=35))
def test_plan_properties(items, budget):
    waves = plan_stock_pushes(items, budget)
    flat = [item for wave in waves for item in wave]
    assert all(1 <= len(wave) <= budget for wave in waves)
    assert all(len(wave) == budget for wave in waves[:-1])  # only the last wave is short
    latest = {item.listing.external_id: item for item in items}
    due = {
        key
        for key, item in latest.items()
        if item.listing.quantity is None or item.listing.quantity != item.target
    }
    assert {item.listing.external_id for item in flat} == due
    assert len(flat) == len(due)  # each listing once
    assert all(item is latest[item.listing.external_id] for item in flat)
    # Sell-outs, then near zero, then the rest; within each, the latest change first.
    ranks = [
        (tier(item), -(item.changed_at if item.changed_at is not None else -1.0)) for item in flat
    ]
    assert ranks == sorted(ranks)


def tier(item: StockPushCandidate) -> int:
    shown, target = item.listing.quantity, item.target
    if target == 0 and (shown is None or shown > 0):
        return 0
    if target <= 3 or (shown is not None and shown <= 3):
        return 1
    return 2
