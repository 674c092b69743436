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
            policy_version=policy_version_quoted_in_the_offer,  # None = in force at delivered_at
        )
        uow.commit()                                 # delivery and reward are kept together, or neither

It never commits; raises `RewardNotDue` (order not delivered), `AlreadyRewarded` (another key already paid
this order), `IdempotencyKeyReused` (same key, different request), `NotFound`, all `DomainError`s. A retry
with the same key and request returns the first `RewardCredit`. For the offer's quote use
`services.quote_delivery_reward(RewardsRepositories(connection), ...)` with the same inputs, or the pure
`policy.compute_reward`.

Use cases for the finance and shopper API (`services.py`; each takes `PostgresRewardsUnitOfWork(pool)`,
keyword arguments, returns a dataclass, commits on success):
- ops: `create_reward_policy(parameters=<JSON object>, actor_id, now)` → `RewardPolicy` (`InvalidInput`
  names the parameter); `register_referral(referrer_shopper_id, referred_shopper_id, actor_id, now)`;
  `review_trust_tier(shopper_id, window_start, now)` → `TierReview` (saves `shoppers.trust_tier`).
- shoppers: `shopper_balances(shopper_id)`, `shopper_statement(shopper_id, kind)`,
  `redeem_store_credit(shopper_id, amount_cents, now, idempotency_key)` (`InsufficientBalance`),
  `payment_preference(shopper_id)` / `set_payment_preference(shopper_id, method, actor_id, now)` (cash or
  store credit; a history, so `payment_method_at(repos, shopper_id, at)` prices an offer and credits its
  delivery in the method in force when the offer was made).
- finance: `prepare_payout_batch(period_start, period_end, actor_id, now)` (`NothingToPay`),
  `hold_payout_line` / `release_payout_line` (drafts only, `BatchNotEditable`), `approve_payout_batch`
  (`FourEyesViolation`, kind "forbidden", when the preparer approves), `reject_payout_batch(reason)`,
  `pay_payout_batch(idempotency_key)` (`IllegalTransition` unless approved), `payout_batch`,
  `payout_batches(statuses)`, `export_payout_batch_csv` → str, `reconciliation_report` → report,
  `reverse_delivery_reward(order_id, reason, idempotency_key)` / `reverse_transaction(...)`
  (`AlreadyReversed`, `InsufficientBalance` when the money is already gone).
Error kinds map to HTTP statuses: invalid → 422, not_found → 404, conflict → 409, forbidden → 403.
Actor ids are plain uuids (users live in the dispatch schema); nothing here checks roles: the API does.
"""
