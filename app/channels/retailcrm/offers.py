"""Linking RetailCRM offers to local products by externalId, xmlId or article. Pure.

An offer carries three identifiers a local product's SKU may equal, trusted in this
order (platforms/retailcrm.md §7.2–§7.3):

1. ``externalId``, the offer's id in the shop, set by the shop's catalogue feed;
2. ``xmlId``, the offer's id in the warehouse system — Stockbridge's own, so its SKU;
3. ``article``, typed by people, the least reliable.

The most trusted identifier that names a product decides. An offer is linked only when
that is unambiguous: when its identifiers name *different* products, or when several
offers would take the same product, nothing is linked and the candidates are offered
to the merchant as suggestions instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from app.core.stock import normalise_sku

KINDS = ("externalId", "xmlId", "article")
WORDS = {
    "externalId": "shop id (externalId)",
    "xmlId": "warehouse id (xmlId)",
    "article": "article",
}


@dataclass(frozen=True, slots=True)
class OfferFacts:
    listing_id: int
    offer_id: str
    article: str = ""
    external_id: str = ""
    xml_id: str = ""

    def value(self, kind: str) -> str:
        raw = {"externalId": self.external_id, "xmlId": self.xml_id, "article": self.article}
        return normalise_sku(raw[kind])


@dataclass(frozen=True, slots=True)
class OfferLink:
    listing_id: int
    product_id: int
    via: str  # the identifier kind that decided


@dataclass(frozen=True, slots=True)
class OfferSuggestion:
    listing_id: int
    offer_id: str
    product_ids: tuple[int, ...]  # most trusted first
    reason: str


@dataclass(slots=True)
class OfferPlan:
    links: list[OfferLink] = field(default_factory=list)
    suggestions: list[OfferSuggestion] = field(default_factory=list)
    unmatched: list[int] = field(default_factory=list)  # listing ids no identifier names


def plan_offer_links(
    offers: Iterable[OfferFacts], products_by_sku: Mapping[str, int], sku_of: Mapping[int, str]
) -> OfferPlan:
    """Links for ``offers`` (the unlinked ones) to products found by exact SKU."""
    plan = OfferPlan()
    proposed: list[tuple[OfferFacts, OfferLink]] = []
    for offer in offers:
        named = [
            (kind, products_by_sku[offer.value(kind)])
            for kind in KINDS
            if offer.value(kind) and offer.value(kind) in products_by_sku
        ]
        if not named:
            plan.unmatched.append(offer.listing_id)
            continue
        products = tuple(dict.fromkeys(pid for _kind, pid in named))
        if len(products) > 1:
            said = "; ".join(
                f"its {WORDS[kind]} is the SKU of {sku_of.get(pid, pid)}" for kind, pid in named
            )
            plan.suggestions.append(
                OfferSuggestion(
                    offer.listing_id,
                    offer.offer_id,
                    products,
                    f"Offer {offer.offer_id} points at different products: {said}.",
                )
            )
            continue
        kind, product = named[0]
        proposed.append((offer, OfferLink(offer.listing_id, product, kind)))
    claims: dict[int, list[tuple[OfferFacts, OfferLink]]] = defaultdict(list)
    for offer, link in proposed:
        claims[link.product_id].append((offer, link))
    for product, claimants in claims.items():
        if len(claimants) == 1:
            plan.links.append(claimants[0][1])
            continue
        others = ", ".join(o.offer_id for o, _ in claimants)
        for offer, link in claimants:
            plan.suggestions.append(
                OfferSuggestion(
                    offer.listing_id,
                    offer.offer_id,
                    (product,),
                    f"Offers {others} all point at {sku_of.get(product, product)}"
                    f" (by {WORDS[link.via]}); choose which one it is.",
                )
            )
    return plan
