"""The ledger and the order lifecycle, through the real store."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core import lifecycle
from app.core.lifecycle import Holding, target_holding
from app.core.models import OrderStatus as S
from app.store.catalog import Catalog
from app.store.db import Database
from app.store.ledger import Ledger
from app.store.orders import ActionRefused, OrderBook
from tests.conftest import make_order


def setup_keg(db, on_hand=10):
    catalog = Catalog(db)
    product = catalog.add_product("KEG", "Beer keg 50 l")
    Ledger(db).record(product.id, catalog.default_warehouse_id(), on_hand=on_hand, reason="count")
    return product


def level(db, product):
    lv = Ledger(db).level(product.id)
    return lv.on_hand, lv.committed, lv.available


def test_sellar_reference_example(db, channel):
    """10 kegs, order of 2 requested → 10/2/8; confirmed → 8/0/8 (the Sellar guide)."""
    keg = setup_keg(db)
    book = OrderBook(db)
    book.ingest(channel, [make_order("1")], first_import=False)
    assert level(db, keg) == (10, 2, 8)
    book.act(book.find("SM-1"), "confirm")
    assert level(db, keg) == (8, 0, 8)


def test_cancel_releases_commit_and_restores_after_confirm(db, channel):
    keg = setup_keg(db)
    book = OrderBook(db)
    book.ingest(channel, [make_order("1"), make_order("2")], first_import=False)
    assert level(db, keg) == (10, 4, 6)
    book.act(book.find("SM-1"), "cancel")
    assert level(db, keg) == (10, 2, 8)
    book.act(book.find("SM-2"), "confirm")
    book.act(book.find("SM-2"), "cancel")
    assert level(db, keg) == (10, 0, 10)


def test_return_puts_goods_back(db, channel):
    keg = setup_keg(db)
    book = OrderBook(db)
    book.ingest(channel, [make_order("1")], first_import=False)
    oid = book.find("SM-1")
    for action in ("confirm", "dispatch", "deliver"):
        book.act(oid, action)
    assert level(db, keg) == (8, 0, 8)
    book.act(oid, "return")
    assert level(db, keg) == (10, 0, 10)


def test_backwards_and_repeated_actions_are_refused(db, channel):
    setup_keg(db)
    book = OrderBook(db)
    book.ingest(channel, [make_order("1")], first_import=False)
    oid = book.find("SM-1")
    book.act(oid, "dispatch")
    with pytest.raises(ActionRefused, match="already dispatched"):
        book.act(oid, "dispatch")
    with pytest.raises(ActionRefused, match="cannot be marked confirmed"):
        book.act(oid, "confirm")


def test_target_holdings():
    assert target_holding(S.REQUESTED, 3) == Holding(committed=3)
    assert target_holding(S.CONFIRMED, 3) == Holding(deducted=3)
    assert target_holding(S.CONFIRMED, 3, fulfil=False) == Holding()
    assert target_holding(S.CANCELLED, 3) == Holding()
    assert lifecycle.movement_between(
        Holding(committed=3), Holding(deducted=3)
    ) == lifecycle.Movement(-3, -3)


ACTIONS = st.sampled_from(["confirm", "dispatch", "deliver", "cancel", "return"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.integers(min_value=0, max_value=20),
    orders=st.lists(
        st.tuples(st.integers(1, 5), st.lists(ACTIONS, max_size=5)), min_size=1, max_size=6
    ),
)
def test_properties_hold_for_any_sequence(tmp_path_factory, start, orders):
    """No buffer: on hand − committed = available; committed never negative; full cycle conserves."""
    db = Database(tmp_path_factory.mktemp("prop") / "s.db")
    try:
        from app.store.channels import ChannelRepo

        ch = ChannelRepo(db).add(
            "C", "selldone", "http://x", warehouse_id=Catalog(db).default_warehouse_id()
        )
        keg = setup_keg(db, on_hand=start)
        book = OrderBook(db)
        book.ingest(
            ch,
            [make_order(str(i), lines=(("L", "KEG", q),)) for i, (q, _) in enumerate(orders)],
            first_import=False,
        )
        for i, (_, actions) in enumerate(orders):
            oid = book.find(f"SM-{i}")
            for action in actions:
                try:
                    book.act(oid, action)
                except ActionRefused:
                    continue
                on_hand, committed, available = level(db, keg)
                assert committed >= 0
                assert on_hand - committed == available
        # Close every order: cancelled or returned orders give everything back.
        for i in range(len(orders)):
            oid = book.find(f"SM-{i}")
            status = S(book.get(oid)["status"])
            if status in (S.REQUESTED, S.CONFIRMED, S.DISPATCHED):
                book.act(oid, "cancel")
            elif status is S.DELIVERED:
                book.act(oid, "return")
        assert level(db, keg) == (start, 0, start)
        assert Ledger(db).verify() == []
    finally:
        db.close()


def test_safety_buffer_and_channel_quantity(db, channel):
    keg = setup_keg(db, on_hand=3)
    Catalog(db).update_product(keg.id, safety_buffer=2)
    OrderBook(db).ingest(channel, [make_order("1")], first_import=False)
    lv = Ledger(db).level(keg.id)
    assert lv.available == -1  # oversold locally: shown to the merchant
    assert lv.sellable == 0  # never below zero to a channel
