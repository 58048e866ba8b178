"""The built-in KPI catalog (docs/KPIS.md), each defined by a formula.

Defining the built-ins in the same formula language as custom KPIs means one evaluator,
one set of property tests, and a catalog whose definitions users can read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from paceline.shared.kpi.formula import Formula, parse_formula

Direction = Literal["higher", "lower"]
Category = Literal["result", "process", "capability"]
# "currency" means the tenant's currency; ratios are fractions (0.25 = 25%).
Unit = Literal["currency", "count", "ratio", "days", "hours", "score", "per_100_customers"]


@dataclass(frozen=True, slots=True)
class KpiDefinition:
    """A KPI: what it is called, how it is computed, and which way is better."""

    key: str
    name_zh: str
    name_en: str
    unit: Unit
    direction: Direction
    category: Category
    formula: Formula
    builtin: bool = True
    # Ratios and averages are not judged before their denominator has this many records.
    min_sample: int = 0
    description_en: str = ""
    description_zh: str = ""
    version: int = 1
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_ratio(self) -> bool:
        """True when the value is a quotient of two rolled-up measures."""
        return self.formula.shape in {"ratio", "working_day_share"}

    def names(self) -> dict[str, str]:
        """The KPI's names by locale."""
        return {"zh-CN": self.name_zh, "en": self.name_en}


def _kpi(
    key: str,
    zh: str,
    en: str,
    unit: Unit,
    direction: Direction,
    category: Category,
    formula: str,
    *,
    min_sample: int = 0,
    desc_en: str = "",
    desc_zh: str = "",
) -> KpiDefinition:
    return KpiDefinition(
        key=key,
        name_zh=zh,
        name_en=en,
        unit=unit,
        direction=direction,
        category=category,
        formula=parse_formula(formula),
        min_sample=min_sample,
        description_en=desc_en,
        description_zh=desc_zh,
    )


WON = 'stage == "won"'

BUILTIN_KPIS: Final[tuple[KpiDefinition, ...]] = (
    _kpi(
        "revenue",
        "销售额",
        "Revenue",
        "currency",
        "higher",
        "result",
        f"sum(deal.amount where {WON})",
        desc_en="Amount of deals won, on the day they were won.",
        desc_zh="赢单金额，按赢单日期计入。",
    ),
    _kpi(
        "deals_won",
        "签单数",
        "Deals won",
        "count",
        "higher",
        "result",
        f"count(deal where {WON})",
        desc_en="Number of deals won.",
        desc_zh="赢单数量。",
    ),
    _kpi(
        "new_customers",
        "新签客户数",
        "New customers",
        "count",
        "higher",
        "result",
        f"distinct(deal.customer_id where {WON} and is_new_customer)",
        desc_en="Distinct customers of won deals marked as new customers.",
        desc_zh="赢单中新客户的去重数量。",
    ),
    _kpi(
        "gross_margin_rate",
        "毛利率",
        "Gross margin rate",
        "ratio",
        "higher",
        "result",
        f"ratio(sum(deal.margin where {WON} and margin is not null), "
        f"sum(deal.amount where {WON} and margin is not null))",
        min_sample=3,
        desc_en="Margin over amount of won deals that carry a margin.",
        desc_zh="赢单毛利之和除以金额之和（仅含有毛利的赢单）。",
    ),
    _kpi(
        "payments_collected",
        "回款额",
        "Payments collected",
        "currency",
        "higher",
        "result",
        "sum(payment.amount_paid)",
        desc_en="Amount paid, on the day it was paid.",
        desc_zh="回款金额，按回款日期计入。",
    ),
    _kpi(
        "visits",
        "拜访次数",
        "Visits",
        "count",
        "higher",
        "process",
        "count(visit)",
        desc_en="Number of visits.",
        desc_zh="拜访次数。",
    ),
    _kpi(
        "new_opportunities",
        "新增商机",
        "New opportunities",
        "count",
        "higher",
        "process",
        "count(lead)",
        desc_en="Number of leads, on the day they were created.",
        desc_zh="新增线索/商机数，按创建日期计入。",
    ),
    _kpi(
        "quotes",
        "报价单数",
        "Quotes",
        "count",
        "higher",
        "process",
        "count(quote)",
        desc_en="Number of quotes sent, on the day they were first sent.",
        desc_zh="报价单数量，按首次发出日期计入。",
    ),
    _kpi(
        "win_rate",
        "签单转化率",
        "Win rate",
        "ratio",
        "higher",
        "process",
        f'ratio(count(deal where {WON}), count(deal where stage in ("won", "lost")))',
        min_sample=5,
        desc_en="Won / (won + lost) deals closed in the period.",
        desc_zh="期间内结案商机中赢单占比。",
    ),
    _kpi(
        "collection_rate",
        "回款率",
        "Collection rate",
        "ratio",
        "higher",
        "process",
        "ratio(sum(payment.amount_paid where amount_due is not null by due_date), "
        "sum(payment.amount_due by due_date))",
        min_sample=3,
        desc_en="Amount paid / amount due, invoices due in the period.",
        desc_zh="期间内到期发票的已回款金额除以应收金额。",
    ),
    _kpi(
        "collection_cycle_days",
        "回款周期",
        "Collection cycle",
        "days",
        "lower",
        "process",
        "avg(payment.days_to_pay)",
        min_sample=3,
        desc_en="Average days from due date to payment (negative: paid early).",
        desc_zh="从到期日到回款的平均天数（负数为提前回款）。",
    ),
    _kpi(
        "complaint_rate",
        "客诉率",
        "Complaint rate",
        "per_100_customers",
        "lower",
        "process",
        "ratio(count(complaint), distinct(any.customer_id)) * 100",
        min_sample=10,
        desc_en="Complaints per 100 active customers (customers with any event).",
        desc_zh="每百名活跃客户（有任意事件的客户）的客诉数。",
    ),
    _kpi(
        "response_hours",
        "响应时长",
        "Response time",
        "hours",
        "lower",
        "process",
        "avg(complaint.response_hours)",
        min_sample=3,
        desc_en="Average hours from a complaint's opening to the first response.",
        desc_zh="客诉从创建到首次响应的平均小时数。",
    ),
    _kpi(
        "csat",
        "客户满意度",
        "Customer satisfaction",
        "score",
        "higher",
        "process",
        "avg(survey.score)",
        min_sample=5,
        desc_en="Average survey score (1–5).",
        desc_zh="满意度调查平均分（1–5）。",
    ),
    _kpi(
        "training_pass_rate",
        "培训通过率",
        "Training pass rate",
        "ratio",
        "higher",
        "capability",
        "ratio(count(training where passed), count(training where passed is not null))",
        min_sample=1,
        desc_en="Trainings passed / trainings taken.",
        desc_zh="培训通过数除以参加数。",
    ),
    _kpi(
        "crm_active_days",
        "CRM活跃度",
        "CRM active days",
        "ratio",
        "higher",
        "capability",
        "working_day_share(any)",
        desc_en="Share of working days with at least one logged event.",
        desc_zh="有至少一条记录的工作日占比。",
    ),
)

BUILTIN_BY_KEY: Final[dict[str, KpiDefinition]] = {k.key: k for k in BUILTIN_KPIS}


def builtin(key: str) -> KpiDefinition:
    """A built-in KPI by key."""
    return BUILTIN_BY_KEY[key]
