"""Scenario 8: paging RetailCRM's offers with the official client and with ours.

One RetailCRM twin (in its own process, 10 requests a second, answering 503 beyond
that like the platform's nginx) holds the seed's offers plus generated ones. Both
clients read every offer's stock (``GET /store/inventories``, ``details=1``, the largest
page size the API takes) in the same run:

- the official ``retailcrm`` package (version 5, synchronous, no pacing of its own), the
  way a script written against it pages: one page after another; when the answer is a
  refusal (503, or a body it cannot read — nginx answers in HTML), it waits for the
  next second and asks again, as the platform's documentation tells callers to;
- Stockbridge's ``RetailCrmClient.fetch_inventories``, which paces itself to the limit.

Both must read the same offers. Reported: each one's wall time, the ratio, and the
refusals each caused (the twin's request log, cleared between the two runs).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from app.bench.report import ScenarioResult, eprint
from app.bench.sandboxes import SandboxProcess

NAME = "side_by_side"
PAGE_LIMIT = 100  # the largest page RetailCRM's list endpoints accept
REFUSED = 503
MAX_REFUSALS = 10_000  # a bound for the official client's retry loop


def run(quick: bool) -> ScenarioResult:
    result = ScenarioResult(NAME, "8. RetailCRM side by side")
    try:
        import retailcrm  # test-only dependency
    except ImportError:
        result.unavailable = "the official retailcrm package is not installed (pip install .[test])"
        return result
    extra = 2_000 if quick else 10_000
    result.sizes["generated offers"] = f"{extra:,}"
    result.sizes["page size"] = PAGE_LIMIT
    with SandboxProcess("retailcrm", {"rate_per_second": 10, "extra_offers": extra}) as box:
        root = box.base_url.split("/api/")[0]
        box.clear_requests()
        eprint("  official client: paging inventories…")
        official = _official(retailcrm.v5(root, box.token))
        official_log = box.requests("/store/inventories")
        time.sleep(1.5)  # the official run's second leaves the twin's window
        box.clear_requests()
        eprint("  Stockbridge's client: paging inventories…")
        ours = asyncio.run(_ours(box))
        ours_log = box.requests("/store/inventories")

    official_refused = sum(1 for r in official_log if r["status"] == REFUSED)
    ours_refused = sum(1 for r in ours_log if r["status"] == REFUSED)
    result.check("offers read, official client", official["offers"], ">=", extra)
    result.check("offers read, Stockbridge (same offers)", ours["offers"], "==", official["offers"])
    result.info("official client: wall time", official["seconds"] * 1000, "ms")
    result.info("official client: requests (refused)", f"{len(official_log)} ({official_refused})")
    result.info("Stockbridge: wall time", ours["seconds"] * 1000, "ms")
    result.info("Stockbridge: requests (refused)", f"{len(ours_log)} ({ours_refused})")
    ratio = official["seconds"] / ours["seconds"] if ours["seconds"] else None
    result.check("speed ratio (official time ÷ Stockbridge time)", ratio, ">", 1.0, "×")
    result.check("Stockbridge: limit breaches", ours_refused, "==", 0)
    if official["errors"]:
        result.notes.append(
            "The official client raised on refused requests (it decodes every answer as"
            f" JSON, and the 503 page is HTML) {official['errors']} times; the loop caught"
            " that, waited and asked again."
        )
    result.metrics.update(
        official={**official, "requests": len(official_log), "refused": official_refused},
        stockbridge={**ours, "requests": len(ours_log), "refused": ours_refused},
        ratio=ratio,
    )
    eprint(
        f"  official {official['seconds']:.2f} s ({official_refused} refused),"
        f" Stockbridge {ours['seconds']:.2f} s ({ours_refused} refused)"
    )
    return result


def _official(client: Any) -> dict[str, Any]:
    """Page every offer's stock with the official client, waiting out refusals."""
    offers: set[str] = set()
    errors = refusals = 0
    page, pages = 1, 1
    started = time.perf_counter()
    while page <= pages:
        try:
            answer = client.inventories({"details": 1}, PAGE_LIMIT, page)
            ok = answer.is_successful()
        except ValueError:  # requests' JSON decoding of an HTML refusal page
            errors += 1
            ok = False
        if not ok:
            refusals += 1
            if refusals > MAX_REFUSALS:
                raise RuntimeError("the official client was refused too often to go on")
            time.sleep(1.0 - (time.time() % 1.0))  # the limit counts per second
            continue
        body = answer.get_response()
        for row in body.get("offers") or []:
            if row.get("stores"):  # as ours: offers that have stock in some store
                offers.add(str(row.get("id")))
        pages = int((body.get("pagination") or {}).get("totalPageCount") or 1)
        page += 1
    return {"offers": len(offers), "seconds": time.perf_counter() - started, "errors": errors}


async def _ours(box: SandboxProcess) -> dict[str, Any]:
    from app.channels.retailcrm.client import RetailCrmClient

    client = RetailCrmClient(box.base_url, box.account, box.token)
    started = time.perf_counter()
    try:
        levels = await client.fetch_inventories()
    finally:
        await client.aclose()
    seconds = time.perf_counter() - started
    return {"offers": len({level.offer_id for level in levels}), "seconds": seconds}
