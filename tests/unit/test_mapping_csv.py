"""Reading and checking mapping spreadsheets (app/core/mapping_csv.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.mapping_csv import (
    CustomerEdit,
    ListingEdit,
    MappingFileError,
    plan_customer_import,
    plan_product_import,
    read_customer_mappings,
    read_product_mappings,
    write_customer_mappings,
    write_product_mappings,
)


def problems_of(result) -> list[tuple[int, str]]:
    return [(p.line, p.reason) for p in result[1]]


def test_reads_the_export_format_and_ignores_informational_columns():
    text = write_product_mappings(
        [
            {"channel": "Web shop", "listing": "P-1", "listing_sku": "A", "product_sku": "A"},
            {"listing": "P-2", "product_name": "ignored on import", "action": "ignore"},
        ]
    )
    rows, problems = read_product_mappings(text.encode())
    assert problems == []
    assert [(r.line, r.listing, r.product_sku, r.action, r.channel) for r in rows] == [
        (2, "P-1", "A", "", "Web shop"),
        (3, "P-2", "", "ignore", ""),
    ]


def test_excel_flavours_semicolons_bom_and_a_notes_column():
    data = "\ufeffListing;Product_SKU;Notes\nP-1; KEG ;checked by Jo\n".encode()
    rows, problems = read_product_mappings(data)
    assert problems == [] and (rows[0].listing, rows[0].product_sku) == ("P-1", "KEG")


def test_bad_rows_are_refused_with_line_and_reason_the_rest_kept():
    data = (
        b"listing,product_sku,action\n"
        b"P-1,KEG,\n"
        b",KEG,\n"  # line 3
        b"P-2,,link\n"
        b"P-3,MUG,unlink\n"
        b"P-4,MUG,delete\n"
        b"P-1,MUG,\n"  # line 7: P-1 again
        b"P-5,MUG,,extra\n"
        b"\n"
        b"P-6,,unlink\n"
    )
    rows, problems = read_product_mappings(data)
    assert [r.listing for r in rows] == ["P-1", "P-6"]
    assert [(p.line, p.reason) for p in problems] == [
        (3, "the listing is empty"),
        (4, "action link needs a product_sku"),
        (5, "action unlink with product_sku MUG: clear one of them"),
        (6, "unknown action 'delete' (use link, unlink, ignore or unignore)"),
        (7, "listing P-1 already appears on line 2"),
        (8, "4 fields where the header has 3"),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"sku,name\nA,B\n", "missing: listing, product_sku"),
        (b"\xff\xfelisting", "not UTF-8"),
    ],
)
def test_unreadable_files_say_why(data, message):
    with pytest.raises(MappingFileError, match=message):
        read_product_mappings(data)


def test_customer_rows():
    data = (
        b"customer_ref,customer_id,customer_email,action\n"
        b"retailer:1,12,,\n"
        b"user:2,,anna@example.org,\n"
        b"guest:3,,,create\n"
        b"user:4,x1,,\n"
        b"user:5,7,,create\n"
        b"user:6,,,link\n"
        b"retailer:1,13,,\n"
        b"user:8,,old@example.org,unlink\n"
    )
    rows, problems = read_customer_mappings(data)
    assert [(r.ref, r.customer_id, r.customer_email, r.action) for r in rows] == [
        ("retailer:1", 12, "", ""),
        ("user:2", None, "anna@example.org", ""),
        ("guest:3", None, "", "create"),
        ("user:8", None, "", "unlink"),  # the email only described the old link
    ]
    assert [(p.line, p.reason) for p in problems] == [
        (5, "customer_id 'x1' is not a number"),
        (6, "action create with customer_id 7: clear one of them"),
        (7, "action link needs a customer_id or customer_email"),
        (8, "customer retailer:1 already appears on line 2"),
    ]


LISTINGS = {
    "P-1": {"id": 1, "name": "Keg", "product_sku": None, "ignored": 0},
    "P-2": {"id": 2, "name": "Mug", "product_sku": "MUG", "ignored": 0},
    "P-3": {"id": 3, "name": "Gift card", "product_sku": None, "ignored": 1},
}
PRODUCTS = {"KEG": 10, "MUG": 11, "Cap-1": 12}


def test_product_import_plan_previews_changes_and_refuses_unknowns():
    data = (
        b"channel,listing,product_sku,action\n"
        b"Web shop,P-1,KEG,\n"
        b"Web shop,P-2,MUG,\n"  # unchanged
        b"Web shop,P-3,,unignore\n"
        b"Web shop,P-9,KEG,\n"
        b"Web shop,P-2,cap-1,\n"  # line 6: duplicate of line 3 comes first
        b"Other shop,P-1,KEG,\n"
    )
    plan = plan_product_import(data, "Web shop", LISTINGS, PRODUCTS)
    assert plan.rows == 6 and plan.unchanged == 1
    assert plan.edits == [ListingEdit(2, 1, 10, False, None), ListingEdit(4, 3, None, False, False)]
    assert [(c["record"], c["before"], c["after"]) for c in plan.changes] == [
        ("P-1", "not linked", "linked to KEG"),
        ("P-3", "ignored", "not linked"),
    ]
    assert [(p.line, p.reason) for p in plan.refused] == [
        (5, "Web shop has no listing P-9"),
        (6, "listing P-2 already appears on line 3"),
        (7, "the row is for channel Other shop"),
    ]


def test_unknown_sku_suggests_the_one_differing_only_in_case():
    data = b"listing,product_sku\nP-1,keg\nP-2,CAP 1\nP-3,NOPE\n"
    refused = plan_product_import(data, "Web shop", LISTINGS, PRODUCTS).refused
    assert [p.reason for p in refused] == [
        "no product has SKU keg; did you mean KEG?",
        "no product has SKU CAP 1",  # a dash is more than case or spaces: no guess
        "no product has SKU NOPE",
    ]


def test_customer_import_plan():
    buyers = {
        "retailer:1": {"name": "Red Lion", "customer_id": None},
        "user:2": {"name": "Anna", "customer_id": 5},
        "guest:3": {"name": "Ben", "customer_id": None},
    }
    customers = {5: "Anna (#5)", 6: "The Red Lion Ltd (#6)", 7: "Twin (#7)", 8: "Twin (#8)"}
    by_email = {"lion@example.org": [6], "twin@example.org": [7, 8]}
    data = (
        b"customer_ref,customer_id,customer_email,action\n"
        b"retailer:1,,LION@example.org,\n"
        b"user:2,5,,\n"
        b"guest:3,,,create\n"
        b"user:9,5,,\n"
        b"retailer:1,99,,\n"
    )
    plan = plan_customer_import(data, "Wholesale", buyers, customers, by_email)
    assert plan.edits == [
        CustomerEdit(2, "retailer:1", 6, False, False),
        CustomerEdit(4, "guest:3", None, False, True),
    ]
    assert [c["after"] for c in plan.changes] == [
        "linked to The Red Lion Ltd (#6)",
        "new customer Ben",
    ]
    assert plan.unchanged == 1
    assert [(p.line, p.reason) for p in plan.refused] == [
        (5, "no orders from customer user:9 on Wholesale"),
        (6, "customer retailer:1 already appears on line 2"),
    ]
    twins = b"customer_ref,customer_id,customer_email\nguest:3,,twin@example.org\n"
    refused = plan_customer_import(twins, "Wholesale", buyers, customers, by_email).refused
    assert refused[0].reason == "several of your customers have the email twin@example.org"


cells = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
    max_size=20,
)


listings = cells.filter(lambda t: t.strip() != "")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(listings, cells), max_size=20, unique_by=lambda t: t[0].strip()))
def test_whatever_is_exported_reads_back_the_same(pairs):
    rows = [{"listing": a, "product_sku": b} for a, b in pairs]
    parsed, problems = read_product_mappings(write_product_mappings(rows).encode())
    assert problems == []
    assert [(r.listing, r.product_sku) for r in parsed] == [
        (a.strip(), b.strip()) for a, b in pairs
    ]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(cells, st.integers(1, 10**6)), max_size=20))
def test_customer_export_reads_back(pairs):
    rows = [{"customer_ref": f"user:{i}{a}", "customer_id": n} for i, (a, n) in enumerate(pairs)]
    parsed, problems = read_customer_mappings(write_customer_mappings(rows).encode())
    assert problems == []
    assert [(r.ref, r.customer_id) for r in parsed] == [
        (f"user:{i}{a}".strip(), n) for i, (a, n) in enumerate(pairs)
    ]
