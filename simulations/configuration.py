"""A scenario turned into what the live service is configured with: the reward policy and the dispatch settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dispatch.batching import BatchParameters
from dispatch.services.context import DispatchConfig
from simulations.scenario import Scenario


def policy_parameters(scenario: Scenario) -> dict[str, Any]:
    """The scenario's reward policy, as ops would propose it."""
    spec = scenario.rewards
    values: dict[str, Any] = {
        "base_cents": spec.base_cents,
        "per_extra_km_cents": spec.per_extra_km_cents,
        "per_extra_minute_cents": spec.per_extra_minute_cents,
        "per_bag_cents": spec.per_bag_cents,
        "minimum_cents": spec.minimum_cents,
        "daily_cap_cents": spec.daily_cap_cents,
        "store_credit_bonus_bps": spec.store_credit_bonus_bps,
        "timezone": scenario.timezone,
    }
    if spec.peak_multiplier_bps is not None:
        values["peak_multiplier_bps"] = spec.peak_multiplier_bps
    if spec.tier_multiplier_bps is not None:
        values["tier_multiplier_bps"] = spec.tier_multiplier_bps
    return values


def dispatch_config(scenario: Scenario) -> DispatchConfig:
    """The live dispatcher's configuration, filled from the scenario.

    The matcher prices a route by its own detour rule; it is set to follow the reward policy: per extra km
    the policy's km rate plus its minute rate at the travel speed, and at least the policy's minimum.
    """
    dispatch, rewards, travel = scenario.dispatch, scenario.rewards, scenario.travel
    offer_ttl = timedelta(seconds=dispatch.offer_ttl_s)
    per_km = rewards.per_extra_km_cents + rewards.per_extra_minute_cents * 60.0 / travel.speed_kmh
    caps: dict[int, int | None] = {
        tier: None if cap == "none" else int(cap) for tier, cap in dispatch.tier_value_caps_cents.items()
    }
    return DispatchConfig(
        offer_ttl=offer_ttl,
        geofence_m=150.0,
        max_delivery_attempts=3,
        lease_ttl_s=30.0,
        matcher_time_limit_s=dispatch.matcher_time_limit_s,
        location_sample_interval_s=30.0,
        location_rate_limit_per_s=10,
        batch=BatchParameters(
            road_factor=travel.road_factor,
            speed_km_per_min=travel.speed_kmh / 60.0,
            max_bundle_orders=dispatch.max_bundle_orders,
            tier_value_caps_cents=caps,
            own_address_radius_m=dispatch.own_address_radius_m,
            compensation_cents_per_km=round(per_km),
            compensation_minimum_cents=max(rewards.minimum_cents, rewards.base_cents + rewards.per_bag_cents),
            offer_ttl=offer_ttl,
        ),
        delivery_code_work=2,  # nothing is kept after the run: the codes' hashes need not be slow
    )
