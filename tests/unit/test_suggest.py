"""Ranking suggestions for listings and channel buyers (app/core/suggest.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.suggest import (
    MPN_MATCH,
    SAME_BARCODE,
    SAME_EMAIL,
    SAME_PHONE,
    SAME_POSTCODE,
    SAME_SKU,
    SKU_CASE,
    SKU_PUNCTUATION,
    BuyerFacts,
    CustomerFacts,
    CustomerIndex,
    ListingFacts,
    ProductFacts,
    ProductIndex,
    buyer_details,
    name_similarity,
    rank_customers,
    rank_products,
)

CATALOGUE = [
    ProductFacts(1, "WASH-250", "Wool Wash 250 ml", "4006381333931"),
    ProductFacts(2, "SOCK-MER-BLK-39", "Merino Crew Socks black 39-42"),
    ProductFacts(3, "SOCK-MER-GRY-39", "Merino Crew Socks grey 39-42"),
    ProductFacts(4, "KEG50", "Beer keg 50 l"),
    ProductFacts(5, "BLANKET-HL", "Highland Wool Blanket", "4006381333948"),
]


def top(listing: ListingFacts) -> tuple[int, tuple[str, ...]]:
    best = rank_products(listing, CATALOGUE)[0]
    return best.id, best.reasons


def test_exact_sku_is_certain_and_first():
    ranked = rank_products(ListingFacts("WASH-250", "Wool Wash (Outlet)"), CATALOGUE)
    assert (ranked[0].id, ranked[0].score, ranked[0].reasons[0]) == (1, 1.0, SAME_SKU)
    assert all(s.score < 1.0 for s in ranked[1:])


def test_sku_differing_in_case_spaces_or_dashes_is_a_suggestion_not_a_match():
    assert top(ListingFacts("keg 50", "")) == (4, (SKU_CASE,))
    assert top(ListingFacts("wash.250", "")) == (1, (SKU_PUNCTUATION,))
    case = rank_products(ListingFacts("keg 50", ""), CATALOGUE)[0]
    assert case.score < 1.0  # only the exact SKU is certain


def test_barcode_and_mpn():
    assert top(ListingFacts("", "", barcode="4006 3813 33948")) == (5, (SAME_BARCODE,))
    assert top(ListingFacts("", "", mpn="keg-50")) == (4, (MPN_MATCH,))
    zeros = rank_products(ListingFacts("", "", barcode="0000000000000"), CATALOGUE)
    assert zeros == []  # an all-zero barcode is the channel's placeholder, not a code


def test_similar_name_ranks_the_closest_first_with_its_percentage():
    ranked = rank_products(ListingFacts("", "Merino crew sock, grey 39-42"), CATALOGUE)
    assert [s.id for s in ranked[:2]] == [3, 2]
    assert ranked[0].reasons[0].startswith("similar name (")
    assert rank_products(ListingFacts("", "Gift wrapping"), CATALOGUE) == []


def test_agreeing_signals_rank_above_one_signal_but_below_exact():
    both = ListingFacts("", "Highland wool blanket", barcode="4006381333948")
    only_code = ListingFacts("", "Something else", barcode="4006381333948")
    a, b = rank_products(both, CATALOGUE)[0], rank_products(only_code, CATALOGUE)[0]
    assert a.id == b.id == 5
    assert b.score < a.score < 1.0
    assert a.reasons[0] == SAME_BARCODE and a.reasons[1].startswith("similar name")


def test_ties_are_broken_by_label_so_the_order_never_flickers():
    twins = [ProductFacts(9, "B-1", "Mug"), ProductFacts(8, "A-1", "Mug")]
    ranked = rank_products(ListingFacts("", "Mug"), twins)
    assert [s.label for s in ranked] == ["A-1 — Mug", "B-1 — Mug"]
    assert rank_products(ListingFacts("", "Mug"), list(reversed(twins))) == ranked


def test_name_similarity_ignores_case_accents_and_plurals():
    assert name_similarity("Müller Mugs", "muller mug") == 1.0
    assert name_similarity("", "anything") == 0.0
    assert 0 < name_similarity("Red mug", "Blue mug") < 1


WORDS = st.sampled_from(["wool", "mug", "red", "sock", "keg", "50", "grey", "mütze", "cap"])
SKUS = st.sampled_from(["A-1", "a1", "A 1", "B-2", "b-2", "C3", "", "KEG", "keg"])
product_lists = st.lists(
    st.tuples(SKUS, st.lists(WORDS, max_size=3), st.sampled_from(["", "123", "0123"])),
    max_size=30,
    unique_by=lambda t: t[0],
)


@settings(max_examples=150, deadline=None)
@given(
    product_lists,
    SKUS,
    st.lists(WORDS, max_size=3),
    st.sampled_from(["", "123", "a1"]),
    st.integers(1, 6),
)
def test_the_index_finds_exactly_what_ranking_every_product_finds(rows, sku, words, code, k):
    """For catalogues small enough that no word is 'common', the index loses nothing."""
    products = [
        ProductFacts(i + 1, s or f"P{i}", " ".join(w), b) for i, (s, w, b) in enumerate(rows)
    ]
    listing = ListingFacts(sku, " ".join(words), mpn=code, barcode=code)
    assert ProductIndex(products).suggest(listing, limit=k) == rank_products(
        listing, products, limit=k
    )


def test_loose_matches_finds_every_case_variant():
    index = ProductIndex([ProductFacts(11, "ABC", ""), ProductFacts(12, "abc", ""), *CATALOGUE])
    assert sorted(p.sku for p in index.loose_matches("Abc")) == ["ABC", "abc"]
    assert index.loose_matches("") == []


# -- customers ------------------------------------------------------------------------------
PEOPLE = [
    CustomerFacts(1, "Anna Schmidt", "anna@example.org", "+49 170 1234567", "10115"),
    CustomerFacts(2, "Ben Weber", "ben@example.org", "", "80331"),
    CustomerFacts(3, "The Red Lion", "orders@redlion.example", "0161 496 0000", "M1 1AA"),
    CustomerFacts(4, "Anna Schmitt", "", "", "20095"),
]


def test_email_is_certain_whatever_its_case():
    ranked = rank_customers(BuyerFacts("A. Schmidt", "ANNA@Example.org "), PEOPLE)
    assert (ranked[0].id, ranked[0].reasons[0]) == (1, SAME_EMAIL)


def test_phone_numbers_agree_across_formats():
    ranked = rank_customers(BuyerFacts("", "", "0170-1234567"), PEOPLE)
    assert (ranked[0].id, ranked[0].reasons) == (1, (SAME_PHONE,))


def test_name_and_postcode_together_beat_name_alone():
    ranked = rank_customers(BuyerFacts("Red Lion", "", "", "m11aa"), PEOPLE)
    assert ranked[0].id == 3 and SAME_POSTCODE in ranked[0].reasons
    anna = rank_customers(BuyerFacts("Anna Schmidt", "", "", "20095"), PEOPLE)
    # Schmitt shares the postcode, Schmidt the exact name: both shown, evidence explained.
    assert {s.id for s in anna[:2]} == {1, 4}


def test_a_postcode_alone_is_not_a_suggestion():
    assert rank_customers(BuyerFacts("Zoe", "", "", "80331"), PEOPLE) == []


def test_customer_index_agrees_with_ranking_everyone():
    index = CustomerIndex(PEOPLE)
    for buyer in (
        BuyerFacts("Anna Schmidt", "", "", "20095"),
        BuyerFacts("", "ben@example.org"),
        BuyerFacts("red lion pub", "", "+44 161 496 0000"),
    ):
        assert index.suggest(buyer) == rank_customers(buyer, PEOPLE)


def test_buyer_details_read_each_platforms_address_keys():
    selldone = buyer_details("Anna", "", {"name": "Anna S", "postal": "10115", "phone": "0170"})
    assert (selldone.name, selldone.postcode, selldone.phone) == ("Anna", "10115", "0170")
    sellar = buyer_details("", "", {"name": "The Red Lion", "postcode": "M1 1AA"})
    assert (sellar.name, sellar.postcode) == ("The Red Lion", "M1 1AA")
    sello = buyer_details("", "", {"email": "zoe@example.org", "postal": "111 22"})
    assert (sello.email, sello.postcode) == ("zoe@example.org", "111 22")
