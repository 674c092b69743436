"""Regular shoppers: a share of a day's shoppers saved a commute profile and check in from it, one tap, on the
profile's days. The simulator registers each regular with their profile through the live use case, and on the
simulated date lets those whose profile recurs on its weekday come at their usual time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import numpy as np

from dispatch.services.context import DispatchContext
from dispatch.services.profiles import ProfileDraft, create_profile
from simulations.city import City, uuid_from
from simulations.scenario import Scenario
from simulations.world import ShopperPlan, draw_regulars, thin_occasional

REGULARS_STREAM = 2
"""The regulars' draws come from this child of the scenario's seed (the world's is 0, the decisions' 1), so that
the world and the decisions draw the same with or without regulars."""

Visit = tuple[ShopperPlan, UUID, UUID | None]
"""Who comes, their shopper id, and the commute profile they check in from (None: an occasional visitor)."""


def with_regulars(
    ctx: DispatchContext,
    scenario: Scenario,
    city: City,
    visits: list[Visit],
    *,
    at: Callable[[float], datetime],
    register: Callable[[ShopperPlan, UUID, str], None],
) -> list[Visit]:
    """The occasional visitors thinned by `regular_share`, and today's regulars: every regular is registered
    (`register`) with a profile made by `create_profile`, and comes when the profile runs on the date."""
    rng = np.random.default_rng(np.random.SeedSequence(scenario.seed, spawn_key=(REGULARS_STREAM,)))
    regulars = draw_regulars(scenario, city, rng)
    occasional = {
        id(plan) for plan in thin_occasional([visit[0] for visit in visits], scenario.shoppers.regular_share, rng)
    }
    kept = [visit for visit in visits if id(visit[0]) in occasional]
    zone = ZoneInfo(scenario.timezone)
    for plan in regulars:
        if plan.days is None:
            continue
        shopper_id = uuid_from(rng)
        register(plan, shopper_id, f"Regular {plan.index + 1}")
        departure = at(plan.arrives_s + plan.dwell_s).astimezone(zone)
        profile = create_profile(
            ctx,
            shopper_id=shopper_id,
            draft=ProfileDraft(
                store_id=city.stores[plan.store_index].id,
                name="Home",
                destination=plan.home,
                days=plan.days,
                departure=departure.time().replace(microsecond=0),
                time_zone=scenario.timezone,
                capacity_bags=plan.capacity,
                max_detour_m=plan.max_detour_m,
                max_detour_s=plan.max_detour_s,
            ),
        )
        if profile.runs_on(scenario.date):
            kept.append((plan, shopper_id, profile.id))
    return kept
