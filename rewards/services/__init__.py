"""Use cases of rewards: one function each, with plain inputs, a result object and domain errors.

They run on the `rewards.repositories` protocols, so that the live service (PostgreSQL) and the simulator
(memory) run the same ones. Functions taking a `RewardsUnitOfWork` commit it when they succeed; functions
taking `RewardsRepositories` run inside the caller's transaction and never commit: that is how a reward is
credited in the same transaction as the delivery. Every money-moving call carries an idempotency key
(`crowdship.idempotency`).

- `policies`: propose, decide, list reward policies; quote a delivery.
- `credits`: credit a delivery's reward (and the referral bonus it pays).
- `reversals`: reverse a transaction, or a disputed delivery's reward with its referral bonus.
- `store_credit`: store credit spent at the till.
- `deliveries`: a delivery's reward inputs (the live hook's), and crediting later a delivery left without one.
- `wallet`: balances, ledger, rewards, the payment method.
- `shoppers`: referrals (register, read), trust tier review.
- `payouts`: payout batches: prepare, hold and release lines, approve or reject, export, pay.
- `books`: the books read back: payout batches, payees' names, reconciliation, the audit log.
"""

from rewards.services.books import (
    AuditRecord,
    audit_log,
    batch_periods,
    export_numbers,
    payee_names,
    payout_batch,
    payout_batches,
    payout_line_payees,
    promised_payout,
    reconciliation_report,
)
from rewards.services.credits import RewardCredit, credit_delivered_order, credit_delivery_reward
from rewards.services.deliveries import (
    DeliveryPricing,
    LateCredit,
    LateCreditQuote,
    OrderReward,
    credit_unrewarded_delivery,
    delivery_reward_inputs,
    order_reward,
    quote_unrewarded_delivery,
)
from rewards.services.payouts import (
    PaidBatch,
    PreparedBatch,
    approve_payout_batch,
    export_payout_batch_csv,
    hold_payout_line,
    pay_payout_batch,
    prepare_payout_batch,
    reject_payout_batch,
    release_payout_line,
)
from rewards.services.policies import (
    create_reward_policy,
    decide_reward_policy,
    earnings_so_far,
    propose_reward_policy_once,
    proposed_reward_policies,
    quote_delivery_reward,
    reward_policies,
    reward_policy,
    reward_policy_in_force,
    reward_policy_versions,
)
from rewards.services.reversals import Reversals, reverse_delivery_reward
from rewards.services.shoppers import TierReview, register_referral, review_trust_tier, shopper_referral
from rewards.services.store_credit import Posting, redeem_store_credit
from rewards.services.wallet import (
    PaymentPreference,
    ShopperBalances,
    ShopperReward,
    every_reward,
    payment_method_at,
    payment_preference,
    set_payment_preference,
    shopper_balances,
    shopper_ledger,
    shopper_rewards,
)

__all__ = [
    "AuditRecord",
    "DeliveryPricing",
    "LateCredit",
    "LateCreditQuote",
    "OrderReward",
    "PaidBatch",
    "PaymentPreference",
    "Posting",
    "PreparedBatch",
    "Reversals",
    "RewardCredit",
    "ShopperBalances",
    "ShopperReward",
    "TierReview",
    "approve_payout_batch",
    "audit_log",
    "batch_periods",
    "create_reward_policy",
    "credit_delivered_order",
    "credit_delivery_reward",
    "credit_unrewarded_delivery",
    "decide_reward_policy",
    "delivery_reward_inputs",
    "earnings_so_far",
    "every_reward",
    "export_numbers",
    "export_payout_batch_csv",
    "hold_payout_line",
    "order_reward",
    "pay_payout_batch",
    "payee_names",
    "payment_method_at",
    "payment_preference",
    "payout_batch",
    "payout_batches",
    "payout_line_payees",
    "prepare_payout_batch",
    "promised_payout",
    "propose_reward_policy_once",
    "proposed_reward_policies",
    "quote_delivery_reward",
    "quote_unrewarded_delivery",
    "reconciliation_report",
    "redeem_store_credit",
    "register_referral",
    "reject_payout_batch",
    "release_payout_line",
    "reverse_delivery_reward",
    "review_trust_tier",
    "reward_policies",
    "reward_policy",
    "reward_policy_in_force",
    "reward_policy_versions",
    "set_payment_preference",
    "shopper_balances",
    "shopper_ledger",
    "shopper_referral",
    "shopper_rewards",
]
