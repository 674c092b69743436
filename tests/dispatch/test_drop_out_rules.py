"""A shopper who accepts an order sees the recipient's address: dropping out afterwards must not be a way to
read addresses one after another (`dispatch.rules`: `barred_pairs`, `offers_resume_at`, `held_back_shoppers`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from crowdship.units import Cents
from dispatch.model import Offer, OfferStatus
from dispatch.rules import DropOut, DropOutLimit, PairOffer, barred_pairs, held_back_shoppers, offers_resume_at

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
LIMIT = DropOutLimit(max_drop_outs=3, window=timedelta(hours=24))


def _barred_now(history: list[PairOffer], trip_shoppers: dict[UUID, UUID]) -> set[tuple[UUID, UUID]]:
    return barred_pairs(history, NOW, reoffer_after=timedelta(minutes=5), max_offers=3, trip_shoppers=trip_shoppers)


def test_an_order_a_shopper_dropped_out_of_is_never_offered_to_any_trip_of_theirs() -> None:
    shopper, other_shopper, order = uuid4(), uuid4(), uuid4()
    old_trip, new_trip, later_trip, others_trip = uuid4(), uuid4(), uuid4(), uuid4()
    history = [
        PairOffer(old_trip, order, OfferStatus.WITHDRAWN, NOW - timedelta(hours=30), shopper, NOW - timedelta(days=1))
    ]
    barred = _barred_now(history, {new_trip: shopper, later_trip: shopper, others_trip: other_shopper})
    assert (new_trip, order) in barred
    assert (later_trip, order) in barred
    assert (others_trip, order) not in barred


def test_an_offer_withdrawn_before_it_was_accepted_bars_no_other_trip_of_the_shopper() -> None:
    """Withdrawn under them (a bundle broken by a cancelled order): they never saw the address."""
    shopper, order, old_trip, new_trip = uuid4(), uuid4(), uuid4(), uuid4()
    history = [PairOffer(old_trip, order, OfferStatus.WITHDRAWN, NOW - timedelta(minutes=1), shopper, None)]
    assert (new_trip, order) not in _barred_now(history, {new_trip: shopper})


def test_offers_resume_once_the_oldest_counted_drop_out_leaves_the_window() -> None:
    two = [NOW - timedelta(hours=5), NOW - timedelta(hours=1)]
    assert offers_resume_at(two, NOW, LIMIT) is None
    three = [NOW - timedelta(hours=23), *two]
    assert offers_resume_at(three, NOW, LIMIT) == NOW + timedelta(hours=1)
    four = [NOW - timedelta(hours=23, minutes=30), *three]
    assert offers_resume_at(four, NOW, LIMIT) == NOW + timedelta(hours=1)  # the 3 newest decide
    assert offers_resume_at(three, NOW + timedelta(hours=1), LIMIT) is None


def test_drop_outs_older_than_the_window_do_not_count() -> None:
    long_ago = [NOW - timedelta(hours=25), NOW - timedelta(hours=30), NOW - timedelta(days=3)]
    assert offers_resume_at([*long_ago, NOW - timedelta(hours=1)], NOW, LIMIT) is None


def test_only_shoppers_at_the_limit_are_held_back_each_until_their_own_time() -> None:
    steady, flaky = uuid4(), uuid4()
    drop_outs = [DropOut(flaky, NOW - timedelta(hours=hours)) for hours in (2, 3, 20)]
    drop_outs.append(DropOut(steady, NOW - timedelta(hours=1)))
    assert held_back_shoppers(drop_outs, NOW, LIMIT) == {flaky: NOW + timedelta(hours=4)}


def test_an_offer_remembers_it_was_accepted_once_withdrawn_as_a_drop_out() -> None:
    offer = Offer(uuid4(), (uuid4(),), 100, 60, Cents(500), NOW - timedelta(seconds=30), NOW + timedelta(seconds=30))
    offer.accept(NOW)
    offer.withdraw(NOW + timedelta(minutes=5))
    assert offer.status is OfferStatus.WITHDRAWN
    assert offer.accepted_at == NOW
    assert offer.dropped_out
    unanswered = Offer(
        uuid4(), (uuid4(),), 100, 60, Cents(500), NOW - timedelta(seconds=30), NOW + timedelta(seconds=30)
    )
    unanswered.withdraw(NOW)
    assert not unanswered.dropped_out
