"""RetailCRM offers link to local products by externalId, xmlId, then article."""

from __future__ import annotations

import asyncio
import json

import pytest

from app import cli
from app.channels.retailcrm import service
from app.channels.retailcrm.offers import OfferFacts, plan_offer_links
from app.channels.retailcrm.sandbox import RetailCrmSandbox
from app.hub import Hub
from app.store.listing_ids import identifiers

NAME = "CRM"
# SKU of a local product → what it is on the seeded account.
PRODUCTS = {
    "WH-0001": "xmlId of Assam Breakfast 100 g",
    "colombia-250": "externalId of Colombia Supremo 250 g",
    "TEA-SENCHA-100": "article of Sencha Green 100 g",
    "assam-250": "externalId of Assam Breakfast 250 g ...",
    "TEA-ASSAM-250": "... whose article names another product",
    "FLT-4": "article shared by two filter offers",
}


@pytest.fixture
def box():
    with RetailCrmSandbox(seed=1) as sandbox:
        yield sandbox


@pytest.fixture
def hub(tmp_path, box):
    h = Hub(tmp_path / "data")
    for sku, name in PRODUCTS.items():
        h.catalog.add_product(sku, name)
    asyncio.run(
        h.add_channel("retailcrm", NAME, account="", secret=box.token, base_url=box.base_url)
    )
    yield h
    h.close()


def test_offers_link_by_the_most_trusted_identifier_and_ambiguity_only_suggests(hub, box):
    (report,) = asyncio.run(hub.sync(NAME))
    assert report.ok, report.error
    links = {r["listing"]: (r["product_sku"], r["method"]) for r in hub.listings(NAME)}

    def offer(external_id: str) -> str:
        return str(next(o["id"] for o in box.offers.values() if o["externalId"] == external_id))

    assert links[offer("assam-100")] == ("WH-0001", "id")
    assert links[offer("colombia-250")] == ("colombia-250", "id")
    assert links[offer("sencha-100")] == ("TEA-SENCHA-100", "sku")
    for ambiguous in ("assam-250", "filters-100", "filters-200"):
        assert links[offer(ambiguous)] == (None, None)
    assert report.linked == 3
    # The identifiers stay beside the listings, for the next linking and the callback.
    channel = hub.channels.get(NAME)
    kept = identifiers(hub.db, channel.id)
    by_offer = {r["external_id"]: r["id"] for r in hub.channels.listings(channel.id)}
    assert kept[by_offer[offer("assam-100")]] == {"externalId": "assam-100", "xmlId": "WH-0001"}
    assert kept[by_offer[offer("sencha-100")]] == {"externalId": "sencha-100"}
    # Asked again, the ambiguous ones come back as suggestions with the reason.
    batch, plan = service.link_offers(hub.mapping, channel)
    assert batch.linked == 0
    reasons = {s.offer_id: s.reason for s in plan.suggestions}
    assert "different products" in reasons[offer("assam-250")]
    assert "TEA-ASSAM-250" in reasons[offer("assam-250")]
    assert "choose which one" in reasons[offer("filters-100")]
    ranked = next(s for s in plan.suggestions if s.offer_id == offer("assam-250"))
    assert [hub.catalog.get(p).sku for p in ranked.product_ids] == ["assam-250", "TEA-ASSAM-250"]


def test_headless_offers_lists_what_waits_for_a_choice(hub, box, tmp_path, capsys):
    (report,) = asyncio.run(hub.sync(NAME))
    assert report.ok, report.error
    data = ["--data-dir", str(tmp_path / "data")]
    assert cli.main(["channel", "offers", NAME, "--json", *data]) == 0
    rows = json.loads(capsys.readouterr().out)
    assam = next(o for o in box.offers.values() if o["externalId"] == "assam-250")
    listed = {r["offer"]: r for r in rows}
    assert listed[str(assam["id"])]["candidates"] == ["assam-250", "TEA-ASSAM-250"]
    assert len(rows) == 3  # Assam 250 and both filter offers; nothing was linked meanwhile
    assert cli.main(["channel", "offers", NAME, *data]) == 0
    assert "why it was not linked" in capsys.readouterr().out


def test_the_plan_is_pure_and_trusts_external_ids_over_articles():
    offers = [
        OfferFacts(1, "11", article="A", external_id="X"),
        OfferFacts(2, "12", article="B", xml_id=" B "),
        OfferFacts(3, "13", article="nothing"),
    ]
    plan = plan_offer_links(offers, {"X": 100, "A": 100, "B": 200}, {100: "X", 200: "B"})
    assert [(link.listing_id, link.product_id, link.via) for link in plan.links] == [
        (1, 100, "externalId"),
        (2, 200, "xmlId"),
    ]
    assert plan.unmatched == [3] and plan.suggestions == []
