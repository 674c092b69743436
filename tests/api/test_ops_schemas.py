"""Operations' bodies read straight from domain objects: an offer's order ids, a store's summary beside its
live count, a batch report's offers and what it dropped."""

from __future__ import annotations

from uuid import uuid4

from domain_samples import DROPOFF, NOW, an_offer, an_order

from api.ops_schemas import BatchOut, LiveStoreSummary, OpsOfferOut, OrderOut, StoreSummaryOut
from dispatch.batch_offers import DroppedAssignment
from dispatch.repositories import StoreSummary
from dispatch.services.batch import BatchReport


def test_an_orders_drop_off_reads_from_a_geo_point() -> None:
    assert OrderOut.model_validate(an_order()).model_dump()["dropoff"] == {"lat": DROPOFF.lat, "lon": DROPOFF.lon}


def test_an_ops_offer_lists_its_order_ids_in_visiting_order() -> None:
    orders = [an_order(), an_order(), an_order()]
    offer = an_offer(*orders)
    assert OpsOfferOut.model_validate(offer).order_ids == [order.id for order in orders]


def test_a_store_summary_carries_the_live_count_beside_the_databases_figures() -> None:
    summary = StoreSummary(
        store_id=uuid4(), orders_by_status={"pending": 4}, open_trips=2, open_offers=1, orders_past_deadline=0,
        pending_by_reason={"no_trip_within_detour": 3, "none": 1},
    )  # fmt: skip
    body = StoreSummaryOut.model_validate(LiveStoreSummary(summary, live_shoppers=7)).model_dump()
    assert body == {
        "store_id": summary.store_id,
        "orders_by_status": {"pending": 4},
        "open_trips": 2,
        "open_offers": 1,
        "orders_past_deadline": 0,
        "pending_by_reason": {"no_trip_within_detour": 3, "none": 1},
        "live_shoppers": 7,
    }


def test_a_batch_report_names_its_offers_and_counts_what_was_dropped() -> None:
    offers = [an_offer(an_order()), an_offer(an_order())]
    report = BatchReport(
        store_id=uuid4(),
        started_at=NOW,
        offers=offers,
        dropped=[DroppedAssignment(trip_id="t", order_ids=("o",), reason="capacity")],
        pending_orders=3,
    )
    body = BatchOut.model_validate(report)
    assert body.offers == [offer.id for offer in offers]
    assert (body.dropped_assignments, body.pending_orders, body.skipped) == (1, 3, False)
