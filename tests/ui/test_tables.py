"""The SQL-backed tables: nothing read before needed, sorting and searching in SQL."""

from PySide6.QtCore import Qt

from app.store.orders import OrderBook
from app.ui.orders_page import ORDER_SELECT, order_columns
from app.ui.tables import SqlProxy, SqlTableModel, TablePage
from tests.conftest import make_order


def counting(db):
    """The db with a log of the statements sent through its helpers."""
    seen: list[str] = []
    for name in ("all", "one", "scalar", "execute"):
        call = getattr(db, name)

        def logged(sql, *args, _call=call):
            seen.append(sql)
            return _call(sql, *args)

        setattr(db, name, logged)
    return seen


def orders_model(db, **options):
    return SqlTableModel(
        db,
        ORDER_SELECT,
        order_columns(),
        default_sort="COALESCE(o.placed_at, o.imported_at) DESC, o.id DESC",
        **options,
    )


def fill(db, channel, n):
    OrderBook(db).ingest(
        channel,
        [make_order(str(i), updated=1000.0 + i) for i in range(n)],
        first_import=False,
    )


def test_a_table_reads_nothing_until_it_is_shown(qtbot, db, channel):
    fill(db, channel, 3)
    seen = counting(db)
    model = orders_model(db)
    page = TablePage(model, noun="orders", search_hint="Search")
    qtbot.addWidget(page)
    assert seen == [] and not model.loaded and model.rowCount() == 0
    page.show()
    qtbot.waitUntil(lambda: model.loaded, timeout=2000)
    assert model.rowCount() == 3
    assert page.count_label.text() == "3 orders"


def test_sorting_reorders_without_counting_again(db, channel):
    fill(db, channel, 5)
    model = orders_model(db)
    model.refresh()
    seen = counting(db)
    model.sort(0, Qt.SortOrder.AscendingOrder)
    assert [model.row(i)["number"] for i in range(5)] == [f"SM-{i}" for i in range(5)]
    assert not any("COUNT(*)" in sql for sql in seen)
    model.sort(0, Qt.SortOrder.DescendingOrder)
    assert model.row(0)["number"] == "SM-4" and model.rowCount() == 5


def test_the_cheap_count_is_used_only_while_nothing_filters(db, channel):
    fill(db, channel, 12)
    model = orders_model(db, count_all="SELECT COUNT(*) FROM orders", page_size=2)
    seen = counting(db)
    model.refresh()
    assert model.rowCount() == 12 and seen == ["SELECT COUNT(*) FROM orders"]
    model.set_search("SM-1")  # SM-1, SM-10, SM-11: more than a page, so counted
    assert model.rowCount() == 3
    assert seen[-1].startswith("SELECT COUNT(*) FROM (SELECT")
    assert [model.row(i)["number"] for i in range(3)] == ["SM-11", "SM-10", "SM-1"]
    model.set_filter("status", "o.status = 'cancelled'")
    assert model.rowCount() == 0


def test_a_narrow_search_is_counted_from_its_first_page(db, channel):
    fill(db, channel, 12)
    model = orders_model(db, page_size=5)
    model.refresh()
    seen = counting(db)
    model.set_search("SM-1")
    assert model.rowCount() == 3 and len(seen) == 1 and "LIMIT 5" in seen[0]
    assert [model.row(i)["number"] for i in range(3)] == ["SM-11", "SM-10", "SM-1"]
    assert len(seen) == 1  # the rows came with the count


def test_the_proxy_passes_sorting_and_searching_to_sql(db, channel):
    fill(db, channel, 4)
    model = orders_model(db)
    proxy = SqlProxy(model)
    model.refresh()
    proxy.setFilterFixedString("SM-2")
    assert proxy.rowCount() == 1
    assert proxy.mapToSource(proxy.index(0, 0)).row() == 0
    proxy.setFilterFixedString("")
    proxy.sort(0, Qt.SortOrder.DescendingOrder)
    assert proxy.index(0, 0).data() == "SM-3"


def test_search_matches_the_channel_name_and_several_words(db, channel):
    from app.core.models import OrderStatus
    from app.store.catalog import Catalog
    from app.store.channels import ChannelRepo

    fill(db, channel, 3)
    other = ChannelRepo(db).add(
        "Wholesale",
        "selldone",
        "http://127.0.0.1:2",
        account="2",
        warehouse_id=Catalog(db).default_warehouse_id(),
    )
    OrderBook(db).ingest(other, [make_order("9", status=OrderStatus.CONFIRMED)], first_import=False)
    model = orders_model(db)
    model.refresh()
    model.set_search("whole")  # any case, part of the channel's name
    assert model.rowCount() == 1 and model.row(0)["channel"] == "Wholesale"
    model.set_search("web SM-2")  # every word matches some column
    assert [model.row(i)["number"] for i in range(model.rowCount())] == ["SM-2"]
    model.set_search("anna")  # the customer's name
    assert model.rowCount() == 4
    model.set_search("shop SM-9")  # SM-9 is a Wholesale order
    assert model.rowCount() == 0
    # The table's own cells: text, alignment of numbers, the row behind a cell.
    model.set_search("")
    total = model.index(0, 5)
    assert model.data(total, Qt.ItemDataRole.TextAlignmentRole) is not None
    assert model.data(model.index(0, 0), Qt.ItemDataRole.TextAlignmentRole) is None
    assert model.data(model.index(0, 0), Qt.ItemDataRole.DecorationRole) is None
    assert model.data(model.index(0, 3), Qt.ItemDataRole.ForegroundRole) is not None
    assert model.data(model.index(0, 6), Qt.ItemDataRole.ToolTipRole)
    assert model.data(model.index(99, 0)) is None
