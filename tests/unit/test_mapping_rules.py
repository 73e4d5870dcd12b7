from app.core.mapping import (
    DUPLICATE_ON_CHANNEL,
    EMPTY_SKU,
    NO_PRODUCT,
    ListingView,
    plan_sku_links,
)


def view(i, sku, linked=False, ignored=False):
    return ListingView(i, str(i), sku, linked, ignored)


def test_only_exact_unique_skus_link():
    plan = plan_sku_links(
        [
            view(1, "A"),
            view(2, " B "),
            view(3, "C"),
            view(4, "C"),
            view(5, ""),
            view(6, "a"),
            view(7, "D", linked=True),
            view(8, "E", ignored=True),
        ],
        {"A": 10, "B": 11, "C": 12, "D": 13, "E": 14},
    )
    assert plan.links == [(1, 10), (2, 11)]
    assert plan.conflicts == [(3, DUPLICATE_ON_CHANNEL), (4, DUPLICATE_ON_CHANNEL), (5, EMPTY_SKU)]
    assert plan.unmapped == [(6, NO_PRODUCT)]  # SKUs are case-sensitive: a near-miss is not a match
