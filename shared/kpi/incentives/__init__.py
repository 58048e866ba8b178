"""Incentives (激励): plans that turn facts and scorecards into earnings, pure.

- :mod:`.plans` — the plan document (components: commission, bonus, gate, modifier,
  spiff, pool) and its checks (tiers ordered, rates non-negative, caps above thresholds),
  each finding naming the field.
- :mod:`.payout` — the arithmetic: commission tiers (marginal or retroactive), the bonus
  curve (threshold, target, stretch, accelerator, cap), gates, modifiers, the next tier,
  and the one rounding rule (each line to the currency's minor unit, half up).
- :mod:`.earnings` — one rep's earnings for a period from figures already read: lines per
  component and plan segment (pro rata), gates and modifiers applied, clawbacks.

Nothing here does I/O or reads the clock; ``paceline.shared.readmodel.earnings`` reads
the facts, targets and assignments and calls it (docs/INCENTIVES.md).
"""
