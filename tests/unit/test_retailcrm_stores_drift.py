"""Store maps and drift comparison for RetailCRM: pure functions."""

import pytest

from app.channels.retailcrm.drift import Expected, compare
from app.channels.retailcrm.inventory import InventoryLevel
from app.channels.retailcrm.stores import (
    ALL_WAREHOUSES,
    StoreMapError,
    checked_map,
    parse_pairs,
    store_for_warehouse,
    store_map,
)


def test_a_saved_map_wins_and_older_channels_keep_their_single_store():
    assert store_map({}) == {}
    assert store_map({"store_code": "main"}) == {"main": ALL_WAREHOUSES}
    assert store_map({"store_code": "main", "store_map": {"north": 2, "main": "1"}}) == {
        "north": 2,
        "main": 1,
    }
    assert store_map({"store_code": "main", "store_map": {"x": None}}) == {"main": None}


def test_the_shipment_store_follows_the_warehouse():
    assert store_for_warehouse({"main": 1, "north": 2}, 2) == "north"
    assert store_for_warehouse({"main": 1}, 5) is None
    assert store_for_warehouse({"main": ALL_WAREHOUSES}, 5) == "main"


def test_maps_are_checked_against_stores_and_warehouses():
    warehouses = {1: "Main", 2: "North"}
    assert checked_map({"a": 1, "b": None}, ["a", "b"], warehouses) == {"a": 1}
    with pytest.raises(StoreMapError, match="no store 'z'"):
        checked_map({"z": 1}, ["a"], warehouses)
    with pytest.raises(StoreMapError, match="no local warehouse number 9"):
        checked_map({"a": 9}, ["a"], warehouses)
    with pytest.raises(StoreMapError, match="Main is already shown in store 'a'"):
        checked_map({"a": 1, "b": 1}, ["a", "b"], warehouses)
    with pytest.raises(StoreMapError, match="at least one"):
        checked_map({"a": None}, ["a"], warehouses)
    assert parse_pairs(["a=Main", "b = 2", "c="]) == [("a", "Main"), ("b", "2"), ("c", "")]
    with pytest.raises(StoreMapError, match="STORE=WAREHOUSE"):
        parse_pairs(["a"])


def test_drift_compares_as_retailcrm_stores_the_numbers():
    expected = [
        Expected("1", "main", 5, 10.0, listing_id=11, sku="A"),
        Expected("1", "yesno", 7, None, listing_id=11, sku="A"),  # a yes/no store: 1
        Expected("2", "main", 3.0004, 20.004, listing_id=12, sku="B"),  # rounding as sent
        Expected("3", "main", 0, None, listing_id=13, sku="C"),  # absent in the CRM: 0
        Expected("4", "main", 2, None, listing_id=14, sku="D"),  # absent but should be 2
        Expected("5", "main", 1, 9.5, listing_id=15, sku="E"),  # the cost price differs
    ]
    held = [
        InventoryLevel("1", "main", 5, 10),
        InventoryLevel("1", "yesno", 1, None),
        InventoryLevel("2", "main", 3, 20),
        InventoryLevel("5", "main", 1, 9.0),
        InventoryLevel("9", "main", 4, None),  # an offer Stockbridge does not stock
    ]
    drifts = compare(expected, held, {"yesno": "available"})
    assert [(d.offer_id, d.crm_quantity, d.quantity, d.crm_cost, d.cost) for d in drifts] == [
        ("4", 0.0, 2.0, None, None),
        ("5", 1.0, 1.0, 9.0, 9.5),
    ]
    assert drifts[0].what == "stock 0 instead of 2"
    assert drifts[1].what == "cost price 9 instead of 9.5"
    assert drifts[1].as_dict()["listing_id"] == 15
