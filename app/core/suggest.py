"""Ranking which of the merchant's products (or customers) a channel record most likely is.

Pure: no SQL, no Qt. A suggestion never links anything by itself; automatic links are
only the exact, unique SKUs of app/core/mapping.py. These rankings feed the wizard, the
table pickers and the CSV "did you mean" hints, each with the reason in merchant words.

Scores run from 0 to 1. The strongest signal sets the score; every further signal that
agrees adds a little, so "same barcode and a similar name" ranks above either alone.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher

SAME_SKU = "same SKU"
SKU_CASE = "same SKU apart from case or spaces"
SKU_PUNCTUATION = "same SKU apart from dashes and dots"
SAME_BARCODE = "same barcode"
MPN_MATCH = "the listing's MPN is this product's SKU or barcode"
SAME_EMAIL = "same email"
SAME_PHONE = "same phone number"
SAME_POSTCODE = "same postcode"

CORROBORATION = 0.08  # what each further agreeing signal adds
MIN_NAME_SIMILARITY = 0.5  # below this a name is no evidence at all
CANDIDATES = 200  # name matches looked at closely per record, the most word-sharing first

_WORD = re.compile(r"[0-9a-z]+")


# -- normalising ------------------------------------------------------------------------
def loose_sku(sku: str) -> str:
    """The SKU without case or whitespace: 'Keg 50' and 'KEG50' agree."""
    return "".join((sku or "").casefold().split())


def skeleton_sku(sku: str) -> str:
    """Only the letters and digits of a SKU: 'KEG-50.A' and 'keg50a' agree."""
    return "".join(ch for ch in (sku or "").casefold() if ch.isalnum())


def _plain(text: str) -> str:
    """Lower case without accents, so 'Müller' and 'Muller' compare equal."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def name_words(name: str) -> set[str]:
    """The words of a name, plain and singular-ish ('mugs' → 'mug'), one letter dropped."""
    words = set()
    for word in _WORD.findall(_plain(name)):
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        if len(word) > 1 or word.isdigit():
            words.add(word)
    return words


def name_similarity(a: str, b: str) -> float:
    """0..1: shared words (Dice) blended with the character sequence ratio."""
    wa, wb = name_words(a), name_words(b)
    if not wa or not wb:
        return 0.0
    dice = 2 * len(wa & wb) / (len(wa) + len(wb))
    sequence = SequenceMatcher(None, " ".join(sorted(wa)), " ".join(sorted(wb))).ratio()
    return round(0.6 * dice + 0.4 * sequence, 4)


def normalise_code(code: str) -> str:
    """Barcodes and MPNs: without spaces, dashes or case; an all-zero code is no code."""
    value = skeleton_sku(code)
    return "" if not value.strip("0") else value


def normalise_email(email: str) -> str:
    return (email or "").strip().casefold()


def normalise_phone(phone: str) -> str:
    """The last nine digits: '+49 170 1234567' and '0170-1234567' agree."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return digits[-9:] if len(digits) >= 7 else ""


def normalise_postcode(postcode: str) -> str:
    return skeleton_sku(postcode)


# -- records ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ProductFacts:
    id: int
    sku: str
    name: str
    barcode: str = ""

    @property
    def label(self) -> str:
        return f"{self.sku} — {self.name}" if self.name else self.sku


@dataclass(frozen=True, slots=True)
class ListingFacts:
    sku: str
    name: str
    mpn: str = ""
    barcode: str = ""


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    id: int
    name: str
    email: str = ""
    phone: str = ""
    postcode: str = ""

    @property
    def label(self) -> str:
        parts = [self.name or "(no name)"] + [p for p in (self.email, self.postcode) if p]
        return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class BuyerFacts:
    """A channel buyer as their orders describe them."""

    name: str
    email: str = ""
    phone: str = ""
    postcode: str = ""


@dataclass(frozen=True, slots=True)
class Suggestion:
    id: int  # the product's or customer's id
    label: str
    score: float
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    @property
    def percent(self) -> int:
        return round(self.score * 100)


def _combine(signals: list[tuple[float, str]]) -> tuple[float, tuple[str, ...]]:
    signals.sort(key=lambda s: -s[0])
    best = signals[0][0]
    score = best + CORROBORATION * len(signals[1:])
    # Only an exact SKU is certain; agreeing weaker signals come close but never reach it.
    return round(min(score, 1.0 if best >= 1.0 else 0.99), 4), tuple(r for _, r in signals)


def _ranked(found: list[Suggestion], limit: int) -> list[Suggestion]:
    found.sort(key=lambda s: (-s.score, s.label, s.id))
    return found[:limit]


# -- products ---------------------------------------------------------------------------
def score_product(listing: ListingFacts, product: ProductFacts) -> Suggestion | None:
    """How likely ``product`` is what ``listing`` sells, with the reasons; None if no sign."""
    signals: list[tuple[float, str]] = []
    sku, psku = (listing.sku or "").strip(), product.sku
    if sku and sku == psku:
        signals.append((1.0, SAME_SKU))
    elif sku and loose_sku(sku) == loose_sku(psku):
        signals.append((0.95, SKU_CASE))
    elif sku and skeleton_sku(sku) and skeleton_sku(sku) == skeleton_sku(psku):
        signals.append((0.85, SKU_PUNCTUATION))
    barcode = normalise_code(listing.barcode)
    if barcode and barcode == normalise_code(product.barcode):
        signals.append((0.9, SAME_BARCODE))
    mpn = normalise_code(listing.mpn)
    if mpn and mpn in (normalise_code(product.barcode), skeleton_sku(psku)):
        signals.append((0.8, MPN_MATCH))
    similarity = name_similarity(listing.name, product.name)
    if similarity >= MIN_NAME_SIMILARITY:
        signals.append((0.75 * similarity, f"similar name ({round(similarity * 100)}%)"))
    if not signals:
        return None
    score, reasons = _combine(signals)
    return Suggestion(product.id, product.label, score, reasons)


def rank_products(
    listing: ListingFacts, products: Iterable[ProductFacts], *, limit: int = 5
) -> list[Suggestion]:
    """The ``limit`` products most likely to be the listing's, best first (ties by label)."""
    found = [s for p in products if (s := score_product(listing, p)) is not None]
    return _ranked(found, limit)


class ProductIndex:
    """Finds the few products worth ranking for a listing without scanning all of them.

    Built once per wizard or import from the whole catalogue; every lookup is a dict
    hit, so ranking 10,000 listings against 100,000 products stays quick. Words used
    by very many products ('wool', 'black') are not used to find candidates.
    """

    def __init__(self, products: Iterable[ProductFacts]) -> None:
        self.products: dict[int, ProductFacts] = {}
        self.by_sku: dict[str, int] = {}
        self.by_loose: dict[str, list[int]] = defaultdict(list)
        self.by_skeleton: dict[str, list[int]] = defaultdict(list)
        self.by_code: dict[str, list[int]] = defaultdict(list)
        self.by_word: dict[str, list[int]] = defaultdict(list)
        for product in products:
            self.products[product.id] = product
            self.by_sku[product.sku] = product.id
            self.by_loose[loose_sku(product.sku)].append(product.id)
            self.by_skeleton[skeleton_sku(product.sku)].append(product.id)
            for code in {normalise_code(product.barcode), skeleton_sku(product.sku)} - {""}:
                self.by_code[code].append(product.id)
            for word in name_words(product.name):
                self.by_word[word].append(product.id)
        self.common = max(50, len(self.products) // 50)

    def loose_matches(self, sku: str) -> list[ProductFacts]:
        """Products whose SKU equals ``sku`` apart from case and spaces."""
        return [self.products[i] for i in self.by_loose.get(loose_sku(sku), [])] if sku else []

    def candidates(self, listing: ListingFacts) -> list[ProductFacts]:
        ids: set[int] = set()
        if listing.sku.strip():
            ids.update(self.by_loose.get(loose_sku(listing.sku), ()))
            ids.update(self.by_skeleton.get(skeleton_sku(listing.sku), ()))
        for code in (normalise_code(listing.barcode), normalise_code(listing.mpn)):
            if code:
                ids.update(self.by_code.get(code, ()))
        shared: Counter[int] = Counter()
        for word in name_words(listing.name):
            hits = self.by_word.get(word, ())
            if len(hits) <= self.common:
                shared.update(hits)
        ids.update(i for i, _ in shared.most_common(CANDIDATES))
        return [self.products[i] for i in ids]

    def suggest(self, listing: ListingFacts, *, limit: int = 5) -> list[Suggestion]:
        return rank_products(listing, self.candidates(listing), limit=limit)


# -- customers --------------------------------------------------------------------------
def score_customer(buyer: BuyerFacts, customer: CustomerFacts) -> Suggestion | None:
    """How likely the local ``customer`` is this channel ``buyer``; None if no sign."""
    signals: list[tuple[float, str]] = []
    email = normalise_email(buyer.email)
    if email and email == normalise_email(customer.email):
        signals.append((1.0, SAME_EMAIL))
    phone = normalise_phone(buyer.phone)
    if phone and phone == normalise_phone(customer.phone):
        signals.append((0.85, SAME_PHONE))
    similarity = name_similarity(buyer.name, customer.name)
    if similarity >= 0.6:
        signals.append((0.7 * similarity, f"similar name ({round(similarity * 100)}%)"))
    postcode = normalise_postcode(buyer.postcode)
    if postcode and postcode == normalise_postcode(customer.postcode):
        signals.append((0.25, SAME_POSTCODE))
    if not signals:
        return None
    score, reasons = _combine(signals)
    return Suggestion(customer.id, customer.label, score, reasons)


def rank_customers(
    buyer: BuyerFacts, customers: Iterable[CustomerFacts], *, limit: int = 5, min_score: float = 0.3
) -> list[Suggestion]:
    """Local customers most likely to be this buyer, best first; a postcode alone is too weak."""
    found = [
        s for c in customers if (s := score_customer(buyer, c)) is not None and s.score >= min_score
    ]
    return _ranked(found, limit)


class CustomerIndex:
    """Candidate lookup for buyers by email, phone, postcode and rare name words."""

    def __init__(self, customers: Iterable[CustomerFacts]) -> None:
        self.customers: dict[int, CustomerFacts] = {}
        self._keys: dict[str, list[int]] = defaultdict(list)
        for customer in customers:
            self.customers[customer.id] = customer
            for key in self._lookup_keys(customer.email, customer.phone, customer.postcode):
                self._keys[key].append(customer.id)
            for word in name_words(customer.name):
                self._keys["w:" + word].append(customer.id)
        self.common = max(50, len(self.customers) // 50)

    @staticmethod
    def _lookup_keys(email: str, phone: str, postcode: str) -> list[str]:
        keys = [
            ("e:", normalise_email(email)),
            ("p:", normalise_phone(phone)),
            ("z:", normalise_postcode(postcode)),
        ]
        return [prefix + value for prefix, value in keys if value]

    def suggest(self, buyer: BuyerFacts, *, limit: int = 5) -> list[Suggestion]:
        ids: set[int] = set()
        for key in self._lookup_keys(buyer.email, buyer.phone, buyer.postcode):
            hits = self._keys.get(key, ())
            if not key.startswith("z:") or len(hits) <= self.common:
                ids.update(hits)
        shared: Counter[int] = Counter()
        for word in name_words(buyer.name):
            hits = self._keys.get("w:" + word, ())
            if len(hits) <= self.common:
                shared.update(hits)
        ids.update(i for i, _ in shared.most_common(CANDIDATES))
        return rank_customers(buyer, (self.customers[i] for i in ids), limit=limit)


_PHONE_KEYS = ("phone", "mobile", "telephone", "tel")
_POSTCODE_KEYS = ("postcode", "postal", "postal_code", "zip", "zipcode")


def buyer_details(name: str, email: str, receiver: Mapping[str, object]) -> BuyerFacts:
    """What an order tells about its buyer: its customer fields, then the delivery address.

    Each platform names the address fields its own way (Selldone 'postal', Sellar
    'postcode', Sello 'postal' and 'phone'); the first one present wins.
    """

    def first(keys: tuple[str, ...]) -> str:
        for key in keys:
            value = receiver.get(key)
            if value not in (None, ""):
                return str(value).strip()
        return ""

    return BuyerFacts(
        name=(name or "").strip() or first(("name",)),
        email=(email or "").strip() or first(("email",)),
        phone=first(_PHONE_KEYS),
        postcode=first(_POSTCODE_KEYS),
    )
