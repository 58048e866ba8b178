"""Planning maths (PRODUCT.md sections 5 and 6), pure: no I/O, no clock.

Import from the module that holds what you need; this package re-exports nothing.

* :mod:`.decomposition` — bounded and value splits, time trees, org trees, and
  :func:`~.decomposition.decompose` (a goal down the org and in time, exact sums).
* :mod:`.suggestions` — the seasonal model and suggested baseline, target and stretch
  from history, with the reasoning as data.
* :mod:`.smart` — the SMART check of a plan (findings with a severity and a fix).
* :mod:`.drivers` — a revenue or deals miss split into its drivers' effects.
* :mod:`.common` — what they share: the default caps, month arithmetic, the names of
  periods, amounts and event types in messages.
"""
