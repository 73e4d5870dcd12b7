"""Ledger.record_many writes the same movements and exactly the same totals as record."""

from hypothesis import given, settings
from hypothesis import strategies as st

from app.store.catalog import Catalog
from app.store.db import Database
from app.store.ledger import Ledger

deltas = st.one_of(
    st.just(0.0),
    st.integers(-5, 5).map(float),
    st.floats(-1000, 1000, allow_nan=False, allow_infinity=False),
)
movement = st.tuples(st.integers(0, 3), st.integers(0, 1), deltas, deltas)


def _store(opening: list[tuple[int, int, float]]) -> tuple[Database, Ledger, list[int], list[int]]:
    db = Database(":memory:")
    catalog = Catalog(db)
    products = [catalog.add_product(f"SKU-{i}", f"Product {i}").id for i in range(4)]
    db.execute("INSERT INTO warehouses (name) VALUES ('Second')")
    warehouses = [int(r[0]) for r in db.all("SELECT id FROM warehouses ORDER BY id")][:2]
    ledger = Ledger(db)
    for p, w, amount in opening:
        ledger.record(products[p], warehouses[w], on_hand=amount, reason="count")
    return db, ledger, products, warehouses


def _state(db: Database) -> tuple[list, list]:
    movements = db.all(
        "SELECT product_id, warehouse_id, on_hand_delta, committed_delta, reason, note,"
        " order_line_id FROM stock_movements ORDER BY id"
    )
    levels = db.all(
        "SELECT product_id, warehouse_id, on_hand, committed FROM stock_levels"
        " ORDER BY product_id, warehouse_id"
    )
    return [tuple(r) for r in movements], [tuple(r) for r in levels]


@settings(max_examples=150, deadline=None)
@given(
    opening=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1), deltas), max_size=4),
    batches=st.lists(st.lists(movement, max_size=12), max_size=3),
)
def test_batched_totals_equal_one_by_one(opening, batches):
    one_db, one, products, warehouses = _store(opening)
    many_db, many, _, _ = _store(opening)
    for batch in batches:
        rows = [
            (products[p], warehouses[w], on_hand, committed, "order confirmed", "", None, 1.0)
            for p, w, on_hand, committed in batch
        ]
        for row in rows:
            one.record(row[0], row[1], on_hand=row[2], committed=row[3], reason=row[4], at=row[7])
        many.record_many(rows)
    assert _state(many_db) == _state(one_db)  # float for float, not merely close
    assert many.verify() == []
