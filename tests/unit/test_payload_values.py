"""The shared payload readers every platform mapping uses: ids and timestamps."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.channels.errors import PayloadError
from app.channels.values import identifier, timestamp


@pytest.mark.parametrize(
    ("value", "expected"),
    [(7, "7"), ("7", "7"), (" 007 ", "7"), (12.0, "12"), (0, "0"), (10**15, str(10**15))],
)
def test_identifier_reads_the_forms_platforms_send(value, expected):
    assert identifier(value, "order id") == expected


@pytest.mark.parametrize("value", [None, "", "   ", True, -3, -3.0, 1.5, "12a", "١٢", math.nan])
def test_identifier_refuses_what_is_not_an_id_and_names_the_field(value):
    with pytest.raises(PayloadError, match="order id"):
        identifier(value, "order id")


@given(st.integers(min_value=0, max_value=10**18))
def test_identifier_is_the_same_for_int_and_digit_string(n):
    assert identifier(n, "id") == identifier(str(n), "id") == str(n)


def test_timestamp_forms_agree():
    moment = datetime(2025, 3, 14, 9, 21, 7, tzinfo=UTC).timestamp()
    for form in (
        "2025-03-14T09:21:07Z",
        "2025-03-14T09:21:07.000000000Z",
        "2025-03-14 09:21:07",
        "2025-03-14T10:21:07+01:00",
        moment,
        int(moment * 1000),
        str(int(moment)),
    ):
        assert timestamp(form) == pytest.approx(moment), form


@pytest.mark.parametrize("value", [None, "", "  ", False])
def test_timestamp_empty_means_none(value):
    assert timestamp(value) is None


@pytest.mark.parametrize("value", ["yesterday", "2025-13-40", math.inf, "nan"])
def test_timestamp_refuses_garbage_with_the_field_name(value):
    with pytest.raises(PayloadError, match="placed at"):
        timestamp(value, "placed at")
