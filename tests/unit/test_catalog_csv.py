import pytest

from app.core.catalog_csv import CatalogFileError, parse_catalog
from app.hub import Hub


def test_comma_file_with_bom():
    data = "\ufeffsku,name,barcode,cost_price,on_hand\nKEG,Keg 50 l,400638,52.5,10\n".encode()
    rows, problems = parse_catalog(data)
    assert problems == []
    assert (rows[0].sku, rows[0].cost_price, rows[0].on_hand, rows[0].line) == ("KEG", 52.5, 10, 2)


def test_semicolon_file_with_decimal_commas_and_warehouse():
    data = b"sku;name;barcode;cost_price;on_hand;warehouse\nA;Alpha;;1.234,50;3;Back room\n"
    rows, problems = parse_catalog(data)
    assert problems == []
    assert (rows[0].cost_price, rows[0].warehouse) == (1234.5, "Back room")


def test_bad_rows_are_refused_with_line_and_reason():
    data = (
        b"sku,name,barcode,cost_price,on_hand\n"
        b"A,Alpha,,1,2\n"
        b",No sku,,1,2\n"
        b"B,Beta,,cheap,2\n"
        b"A,Again,,1,2\n"
        b"C,Gamma,,1,-4\n"
        b"D,Delta,,1,2,extra\n"
    )
    rows, problems = parse_catalog(data)
    assert [r.sku for r in rows] == ["A"]
    assert [str(p) for p in problems] == [
        "line 3: the SKU is empty",
        "line 4: cost_price 'cheap' is not a number",
        "line 5: SKU A already appears on line 2",
        "line 6: on_hand cannot be negative (-4)",
        "line 7: 6 fields where the header has 5",
    ]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"sku,name\nA,B\n", "missing: barcode, cost_price, on_hand"),
        ("sku,name,barcode,cost_price,on_hand\n".encode("utf-16"), "not UTF-8"),
    ],
)
def test_unreadable_files(data, message):
    with pytest.raises(CatalogFileError, match=message):
        parse_catalog(data)


def test_import_applies_good_rows_in_one_go_and_counts_stock(tmp_path):
    hub = Hub(tmp_path)
    data = b"sku,name,barcode,cost_price,on_hand\nA,Alpha,,1,5\nB,Beta,,2,\nC,,,x,1\n"
    preview = hub.import_catalog(data, dry_run=True)
    assert (preview["created"], hub.catalog.count()) == (2, 0)
    result = hub.import_catalog(data)
    assert (result["created"], result["stock_changed"], len(result["refused"])) == (2, 1, 1)
    assert {r["sku"]: r["on_hand"] for r in hub.stock()} == {"A": 5, "B": 0}
    again = hub.import_catalog(b"sku,name,barcode,cost_price,on_hand\nA,Alpha 2,,1,7\n")
    assert (again["created"], again["updated"]) == (0, 1)
    assert hub.stock("A")[0]["on_hand"] == 7
    movements = hub.db.all("SELECT reason, on_hand_delta FROM stock_movements ORDER BY id")
    assert [(m[0], m[1]) for m in movements] == [("stock count", 5), ("stock count", 2)]
    hub.close()
