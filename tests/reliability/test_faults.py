"""The fault layer itself: the plan, its spec, and what each fault does on the wire.

A tiny generic twin (a paged list and a write) stands in for the platforms, so these
tests say what *every* sandbox built on sandbox_http gets.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from app.channels.faults import FAULT_KINDS, FaultPlan, FaultSpecError
from app.channels.sandbox_http import Request, Response, SandboxHTTPServer

BRIEF_SPEC = (
    "rate=0.2,kinds=500+502+503+429+reset+truncate+malformed+latency+timeout+reorder,"
    "seed=7,latency_ms=50,timeout_s=2"
)


class ItemsTwin(SandboxHTTPServer):
    """23 items behind offset/limit paging with a total, and a write that names itself."""

    def __init__(self) -> None:
        super().__init__()
        self.items = [{"id": i} for i in range(23)]
        self.writes = 0
        self.add_route("GET", r"/items", self._list)
        self.add_route("POST", r"/items/(?P<id>\d+)", self._write)

    def _list(self, request: Request) -> dict[str, Any]:
        offset = int(request.query.get("offset") or 0)
        limit = int(request.query.get("limit") or 5)
        return {"items": self.items[offset : offset + limit], "total": len(self.items)}

    def _write(self, request: Request) -> Response:
        item = int(request.params["id"])
        if item >= len(self.items):
            self.record_application("refused", str(item))  # dropped: the answer is 404
            return Response(404, {"message": "no such item"})
        self.writes += 1
        self.record_application("write", str(item))
        return Response(200, {"id": item, "writes": self.writes})


@pytest.fixture
def twin():
    box = ItemsTwin()
    box.start()
    yield box
    box.stop()


@pytest.fixture
def api(twin):
    with httpx.Client(base_url=twin.base_url, timeout=1.0) as client:
        yield client


def only(kind: str, **options: Any) -> FaultPlan:
    return FaultPlan(rates={kind: 1.0}, **options)


# ------------------------------------------------------------------------------ the plan
def test_the_briefs_spec_splits_the_rate_evenly():
    plan = FaultPlan.parse(BRIEF_SPEC)
    assert set(plan.rates) == set(FAULT_KINDS)
    assert all(rate == pytest.approx(0.02) for rate in plan.rates.values())
    assert plan.total_rate == pytest.approx(0.2)
    assert (plan.seed, plan.latency_ms, plan.timeout_s) == (7, 50.0, 2.0)


@pytest.mark.parametrize(
    "spec",
    [
        BRIEF_SPEC,
        "503=0.05,reset=0.01,seed=3",
        "rate=0.3,kinds=500+reorder,reorder=shift,paths=/orders+/products,methods=GET",
        "rate=0.1,429=0.05,lost=1,max=12,delay_ms=5,retry_after_s=2",
        "delay_ms=20",
    ],
)
def test_specs_round_trip(spec):
    plan = FaultPlan.parse(spec)
    assert FaultPlan.parse(plan.to_spec()) == plan
    assert FaultPlan.from_dict(plan.as_dict()) == plan
    assert FaultPlan.from_dict({"spec": spec}) == plan


def test_a_kinds_own_rate_replaces_its_share():
    plan = FaultPlan.parse("rate=0.3,kinds=500+502+reset,reset=0.1")
    assert plan.rates == {"500": pytest.approx(0.1), "502": pytest.approx(0.1), "reset": 0.1}


@pytest.mark.parametrize(
    "spec, words",
    [
        ("rate=0.2,kinds=500+teapot", "unknown fault kind 'teapot'"),
        ("rate=1.5", "at most 1"),
        ("500=0.7,502=0.7", "add up to 1.4"),
        ("rate=abc", "rate must be a number"),
        ("seed=1.5,500=0.1", "seed must be a whole number"),
        ("colour=blue", "unknown key 'colour'"),
        ("500", "is not key=value"),
        ("kinds=500", "kinds needs a rate"),
        ("500=0.1,timeout_s=-1", "timeout_s must be between"),
        ("500=0.1,reorder=sideways", "reorder modes"),
        ("rate=0.1,500=0.5", "exceed the total rate"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, words):
    with pytest.raises(FaultSpecError, match=words):
        FaultPlan.parse(spec)


def test_off_means_no_faults():
    for spec in ("", "off", "none", None):
        assert not FaultPlan.parse(spec).active


def test_decisions_are_deterministic_fresh_per_retry_and_near_the_rate():
    plan = FaultPlan.parse("rate=0.2,seed=7")
    first = [plan.decide("GET", "/orders", f"page={i}", 0) for i in range(5000)]
    again = [plan.decide("GET", "/orders", f"page={i}", 0) for i in range(5000)]
    assert first == again
    assert 0.18 < sum(d is not None for d in first) / 5000 < 0.22
    # A retried request (next occurrence) draws again instead of failing forever.
    retried = [plan.decide("GET", "/orders", f"page={i}", 1) for i in range(5000)]
    assert retried != first
    other_seed = [plan.with_seed(8).decide("GET", "/orders", f"page={i}", 0) for i in range(5000)]
    assert other_seed != first


def test_only_writes_can_lose_their_answer():
    plan = FaultPlan(rates={"503": 1.0}, lost=1.0)
    assert plan.decide("PUT", "/orders/1", "", 0).lost
    assert not plan.decide("GET", "/orders/1", "", 0).lost
    assert not FaultPlan(rates={"429": 1.0}, lost=1.0).decide("PUT", "/x", "", 0).lost


# ------------------------------------------------------------------------- on the wire
@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_error_statuses(twin, api, kind):
    twin.set_fault_plan(only(kind))
    answer = api.get("/items")
    assert answer.status_code == int(kind)
    assert "injected" in answer.json()["message"]
    entry = twin.request_log[-1]
    assert (entry["status"], entry["fault"], entry["fault_kind"]) == (int(kind), True, kind)
    assert not entry["handled"]


def test_429_carries_its_headers(twin, api):
    twin.set_fault_plan(only("429", retry_after_s=3))
    answer = api.get("/items")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "3"
    assert answer.headers["X-RateLimit-Remaining"] == "0"
    assert int(answer.headers["X-RateLimit-Reset"]) >= int(time.time()) + 2


def test_reset_drops_the_connection(twin, api):
    twin.set_fault_plan(only("reset"))
    with pytest.raises(httpx.TransportError):
        api.get("/items")
    assert twin.request_log[-1]["status"] == 0  # no HTTP answer at all


def test_truncate_cuts_the_body_it_promised(twin, api):
    twin.set_fault_plan(only("truncate"))
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/items")
    entry = twin.request_log[-1]
    assert entry["handled"] and entry["handler_status"] == 200 and entry["fault"]


def test_malformed_bodies_are_not_json(twin, api):
    twin.set_fault_plan(only("malformed"))
    shapes = set()
    for _ in range(12):
        answer = api.get("/items")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        with pytest.raises(ValueError):
            answer.json()
        shapes.add(answer.content[:6])
    assert len(shapes) > 1, "several shapes of garbage, not one"


def test_latency_delays_a_normal_answer(twin, api):
    twin.set_fault_plan(only("latency", latency_ms=150))
    started = time.monotonic()
    answer = api.get("/items")
    assert time.monotonic() - started >= 0.14
    assert answer.json()["total"] == 23
    entry = twin.request_log[-1]
    assert (entry["fault"], entry["fault_kind"]) == (False, "latency")


def test_timeout_is_silence_until_the_client_gives_up(twin):
    twin.set_fault_plan(only("timeout", timeout_s=5))
    with httpx.Client(base_url=twin.base_url, timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            client.get("/items")
        assert time.monotonic() - started < 1.0
    # The server noticed the client leaving and freed its thread long before 5 s.
    deadline = time.monotonic() + 2.0
    while _busy_handlers(twin) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _busy_handlers(twin)


def test_timeout_wait_is_bounded_on_the_server(twin):
    twin.set_fault_plan(only("timeout", timeout_s=0.3))
    with httpx.Client(base_url=twin.base_url, timeout=5.0) as client:
        started = time.monotonic()
        with pytest.raises(httpx.TransportError):
            client.get("/items")
        assert 0.25 < time.monotonic() - started < 2.0


def test_stop_ends_a_hanging_request_at_once():
    box = ItemsTwin()
    box.start()
    box.set_fault_plan(only("timeout", timeout_s=30))
    failures: list[BaseException] = []

    def call() -> None:
        try:
            httpx.get(box.base_url + "/items", timeout=30)
        except httpx.TransportError as exc:
            failures.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.2)
    started = time.monotonic()
    box.stop()
    caller.join(5)
    assert not caller.is_alive() and failures
    assert time.monotonic() - started < 5


def _busy_handlers(twin: SandboxHTTPServer) -> int:
    """Connections a handler still holds (each is forgotten when its handler ends)."""
    with twin._conn_lock:
        return len(twin._connections)


def test_shuffle_keeps_the_page_but_not_its_order(twin, api):
    twin.set_fault_plan(only("reorder", reorder_modes=("shuffle",)))
    page = api.get("/items", params={"offset": 5, "limit": 5}).json()["items"]
    assert sorted(i["id"] for i in page) == [5, 6, 7, 8, 9]
    assert [i["id"] for i in page] != [5, 6, 7, 8, 9]


def test_shift_slides_the_rest_of_the_pass_without_losing_an_item(twin, api):
    """Every page after the shift starts one earlier and the total grows: duplicates
    at the boundaries, nothing lost, as when a row is inserted in front mid-pass."""
    twin.set_fault_plan(only("reorder", reorder_modes=("shift",)))
    seen: list[int] = []
    offset, total = 0, None
    for _ in range(20):
        body = api.get("/items", params={"offset": offset, "limit": 5}).json()
        seen += [item["id"] for item in body["items"]]
        total = body["total"]
        offset += len(body["items"])
        if len(body["items"]) < 5 or offset >= total:
            break
    assert set(seen) == set(range(23))
    assert len(seen) > 23  # the boundary rows came twice
    assert total == 24
    # A new pass (offset 0) starts unshifted.
    twin.clear_fault_plan()
    assert api.get("/items", params={"offset": 5}).json()["items"][0]["id"] == 5


def test_reads_of_non_lists_are_left_alone_by_reorder(twin, api):
    twin.set_fault_plan(only("reorder"))
    assert api.post("/items/3").status_code == 200
    assert twin.request_log[-1]["fault_kind"] is None
    assert twin.fault_stats() == {}


# ------------------------------------------------------- client view vs. applied writes
def test_a_lost_answer_is_applied_but_the_client_sees_an_error(twin, api):
    twin.set_fault_plan(only("502", lost=1.0))
    assert api.post("/items/4").status_code == 502
    entry = twin.request_log[-1]
    assert entry["status"] == 502 and entry["fault"]
    assert entry["handled"] and entry["handler_status"] == 200 and entry["applied"]
    assert entry["answer"] == {"id": 4, "writes": 1}
    assert twin.writes == 1
    assert twin.application_counts("write") == {"4": 1}
    assert [e["path"] for e in twin.applied_writes()] == ["/items/4"]


def test_an_error_before_the_write_applies_nothing(twin, api):
    twin.set_fault_plan(only("503", lost=0.0))
    assert api.post("/items/4").status_code == 503
    entry = twin.request_log[-1]
    assert not entry["handled"] and not entry["applied"]
    assert twin.writes == 0 and twin.applications_of() == []


@pytest.mark.parametrize("kind", ["reset", "timeout"])
def test_lost_answers_on_the_socket(twin, kind):
    twin.set_fault_plan(only(kind, lost=1.0, timeout_s=0.3))
    with (
        httpx.Client(base_url=twin.base_url, timeout=2.0) as client,
        pytest.raises(httpx.TransportError),
    ):
        client.post("/items/2")
    entry = twin.request_log[-1]
    assert entry["status"] == 0 and entry["applied"] and twin.writes == 1


def test_refused_writes_record_no_application(twin, api):
    assert api.post("/items/99").status_code == 404
    assert twin.applications_of() == []
    assert not twin.request_log[-1]["applied"]


def test_applications_recorded_outside_a_request_are_kept():
    box = ItemsTwin()
    box.record_application("seeded", "x", note="from Python")
    assert box.applications_of("seeded")[0]["details"] == {"note": "from Python"}


# --------------------------------------------------------------- scope and control API
def test_control_routes_are_never_faulted(twin, api):
    twin.set_fault_plan(FaultPlan(rates={"503": 1.0}))
    assert api.get("/_sandbox/health").json() == {"ok": True}
    assert api.get("/_sandbox/fault-plan").status_code == 200
    assert twin.request_log == []


def test_paths_and_methods_narrow_the_plan(twin, api):
    twin.set_fault_plan(FaultPlan(rates={"503": 1.0}, paths=("/items/",), methods=("POST",)))
    assert api.get("/items").status_code == 200
    assert api.post("/items/1").status_code == 503


def test_max_stops_after_that_many_faults(twin, api):
    twin.set_fault_plan(FaultPlan(rates={"500": 1.0}, max_faults=2))
    assert [api.get("/items").status_code for _ in range(4)] == [500, 500, 200, 200]
    assert twin.fault_stats() == {"500": 2}


def test_delay_slows_every_request_without_counting_as_a_fault(twin, api):
    twin.set_fault_plan("delay_ms=120")
    started = time.monotonic()
    api.get("/items")
    assert time.monotonic() - started >= 0.11
    assert twin.fault_stats() == {} and not twin.request_log[-1]["fault"]


def test_the_same_seed_replays_the_same_faults(twin, api):
    def run() -> list[int | None]:
        twin.set_fault_plan(FaultPlan.parse("rate=0.5,kinds=500+502+503,seed=11"))
        return [api.get("/items", params={"offset": i % 4}).status_code for i in range(40)]

    assert run() == run()


def test_fault_plan_control_endpoint(twin, api):
    created = api.post("/_sandbox/fault-plan", json={"spec": "503=1,seed=4"})
    assert created.status_code == 200
    assert created.json()["plan"]["rates"] == {"503": 1.0}
    assert api.get("/items").status_code == 503
    shown = api.get("/_sandbox/fault-plan").json()
    assert shown["spec"].startswith("503=1,seed=4") and shown["stats"] == {"503": 1}
    assert (
        api.post("/_sandbox/fault-plan", json={"rates": {"500": 0.5}, "seed": 2}).json()["plan"][
            "seed"
        ]
        == 2
    )
    cleared = api.delete("/_sandbox/fault-plan").json()
    assert cleared["success"]
    assert api.get("/_sandbox/fault-plan").json()["plan"] is None
    assert api.get("/items").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"spec": "rate=2"},
        {"spec": 5},
        {"rates": {"teapot": 0.1}},
        {"rates": {"500": "often"}},
        {"spec": "500=0.1", "seed": 1},
        {"sneaky": True},
        [1, 2],
    ],
)
def test_fault_plan_control_endpoint_refuses_bad_plans(twin, api, body):
    answer = api.post("/_sandbox/fault-plan", json=body)
    assert answer.status_code == 422 and answer.json()["error_msg"]
    assert twin.fault_plan is None


def test_queued_faults_still_work_and_are_labelled(twin, api):
    twin.inject({"path_contains": "/items", "status": 418, "count": 1})
    assert api.get("/items").status_code == 418
    entry = twin.request_log[-1]
    assert (entry["fault"], entry["fault_kind"], entry["handled"]) == (True, "queued", False)


def test_every_sandbox_accepts_a_plan_from_the_cli_spec():
    """The lead's `sandbox serve PLATFORM --faults SPEC` calls exactly this."""
    from app.channels import registry

    for key in registry.PLATFORMS:
        box = registry.platform(key).sandbox_class()(seed=1, port=0, extra_orders=0)
        plan = box.set_fault_plan(FaultPlan.parse(BRIEF_SPEC))
        assert box.fault_plan == plan and plan is not None
