"""Rewards: what a delivery earns, a double-entry ledger that never loses a cent, payouts for finance.

Where things live:
- `policy.py` (pure): versioned reward policies and `compute_reward`, the one function that prices both an
  offer's quote and the credit; the rounding rule is in its docstring.
- `referrals.py`, `tiers.py` (pure): referral commission; trust tier from a shopper's record.
- `ledger.py` (pure): accounts, balanced transactions, reversals, idempotency fingerprints, the errors.
- `payouts.py` (pure): payout batch lifecycle (four eyes), anomaly rules, CSV export.
- `reconciliation.py` (pure): ledger vs payouts vs deliveries.
- `adapters/postgres.py`: repositories; `RewardsRepositories(connection)` joins any open transaction,
  `PostgresRewardsUnitOfWork(pool)` opens its own.
- `services.py`: the use cases an API or CLI calls; domain errors carry `kind` for the HTTP status.

Crediting a delivery reward inside the delivery's transaction (for the API's confirm-delivery use case)::

    from rewards.policy import PaymentMethod, RewardInputs, local_hour
    from rewards.services import credit_delivery_reward

    with PostgresDispatchUnitOfWork(pool) as uow:
        order = uow.orders.get(order_id, for_update=True)
        order.deliver()
        uow.orders.save(order)                      # the order must be 'delivered' before the credit
        credit = credit_delivery_reward(
            uow.connection,                          # same connection: same transaction
            order_id=order.id,
            shopper_id=trip.shopper_id,
            inputs=RewardInputs(extra_distance_m=offer.extra_distance_m,
                                extra_duration_s=offer.extra_duration_s, bags=order.size_bags,
                                local_hour=local_hour(offer.created_at, policy.parameters),
                                trust_tier=shopper.trust_tier, method=PaymentMethod.CASH),
            delivered_at=now,
            idempotency_key=f"delivery-reward:{order.id}",
            policy_version=policy_version_quoted_in_the_offer,  # None = the newest policy
        )
        uow.commit()                                 # delivery and reward are kept together, or neither

It never commits; raises `RewardNotDue` (order not delivered), `AlreadyRewarded` (another key already paid
this order), `IdempotencyKeyReused` (same key, different request), `NotFound`, all `DomainError`s. A retry
with the same key and request returns the first `RewardCredit`. For the offer's quote use
`services.quote_delivery_reward(RewardsRepositories(connection), ...)` with the same inputs, or the pure
`policy.compute_reward`.
"""
