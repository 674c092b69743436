"""Rewards: what a delivery earns, a double-entry ledger that never loses a cent, payouts for finance.

Where things live:
- `policy.py` (pure): a reward policy's numbers, the limits no policy may pass, a delivery's reward inputs.
- `policy_versions.py` (pure): the versions of a policy and the second person's decision on each.
- `pricing.py` (pure): `compute_reward`, the one function that prices both an offer's quote and the credit
  (the rounding rule is in its docstring), and the helpers for offers carrying several orders.
- `referrals.py`, `tiers.py` (pure): referral commission; trust tier from a shopper's record.
- `ledger.py` (pure): accounts, balanced transactions, reversals.
- `payouts.py` (pure): payout batch lifecycle (four eyes), anomaly rules, CSV export.
- `reconciliation.py` (pure): ledger vs payouts vs deliveries.
- `records.py`, `repositories.py`: what is stored and the storage protocols the use cases run on.
- `adapters/postgres/` (the live service) and `adapters/memory.py` (the simulator, use-case tests): storage.
- `services/`: the use cases an API, the CLI or the simulator calls; domain errors carry `kind` for the HTTP
  status (invalid → 422, not_found → 404, conflict → 409, forbidden → 403).
- `hooks.py`: what dispatch calls to price an offer and to credit a delivery in its own transaction.
- `permissions.py`: which roles may do what with money.

A delivery's reward is credited inside the delivery's transaction by `services.credit_delivery_reward(repos,
...)`, `repos` being the rewards repositories on that transaction; it never commits, and a retry with the same
idempotency key and request returns the first `RewardCredit`. The other use cases take a unit of work and
commit on success.
"""
