"""Built-in presets of the generic connector for the Chinese CRMs (settings + mapping).

A preset is what a tenant would otherwise type from docs/CONNECTORS.md: the generic
adapter's settings (signature scheme, body format, where the record id, update time,
deletion and object type are) and a mapping of each vendor object or form to canonical
events. ``PUT /v1/connectors/{source}`` with ``{"settings": {"preset": "<name>"}}`` loads
it: the preset's settings under the ones given, and its mapping unless one is given.
The tenant then adds ``owners`` (or keeps the CRM's user ids as rep ids) and adjusts
stage names to the ones their CRM uses. ``GET /v1/connector-adapters`` lists them.

Field names are each vendor's standard API names where the vendor documents them; where
the body is composed inside the CRM (纷享销客 APL, 销售易 workflow, 金蝶云苍穹 plugin), the
preset names the body the documented recipe posts. 简道云 forms use the field aliases the
recipe sets (简道云 replaces ``_widget_...`` ids by aliases in pushes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from paceline.shared.i18n import Code, Msg, msg

_OWNER_JDY: Final = "data.owner.username"  # a 成员 widget: {"name", "username", ...}
_JDY_STAGES: Final = {
    "open": ["初步接洽", "需求确认", "方案/报价", "谈判审核"],
    "won": ["赢单"],
    "lost": ["输单"],
}


@dataclass(frozen=True, slots=True)
class Preset:
    """A named generic-connector setup for one CRM."""

    name: str
    title: Msg  # from the ingest catalog (webhooks.preset.<name>.title)
    docs: tuple[str, ...]
    settings: dict[str, Any]
    mapping: dict[str, Any]
    notes: Msg | None = None
    # object type -> the CRM's own name of the object or form (as its users see it)
    objects: dict[str, str] = field(default_factory=dict)


JIANDAOYUN_CRM = Preset(
    name="jiandaoyun-crm",
    title=msg("webhooks.preset.jiandaoyun_crm.title", query=Code("?form=<object>")),
    docs=(
        "https://hc.jiandaoyun.com/open/11507",
        "https://hc.jiandaoyun.com/open/10732",
    ),
    settings={
        "signature": "jiandaoyun",
        "format": "records",
        "object_type_query": "form",
        "record_id_path": "data._id",
        "version_path": "data.updateTime",
        "deleted_path": "op",
        "deleted_values": ["data_remove"],
    },
    objects={
        "customer": "客户",
        "followup": "跟进记录 / 拜访",
        "opportunity": "商机",
        "quote": "报价",
        "contract": "合同",
        "payment": "回款",
        "complaint": "客诉",
    },
    mapping={
        "objects": {
            "customer": {
                "type": "lead",
                "fields": {
                    "rep_id": _OWNER_JDY,
                    "customer_id": "$record_id",
                    "source": "data.source",
                    "occurred_at": "data.createTime",
                },
                "defaults": {"is_new_customer": True},
                "attributes": {"customer_name": "data.name"},
            },
            "followup": {
                "type": "visit",
                "fields": {
                    "rep_id": _OWNER_JDY,
                    "occurred_at": ["data.visit_time", "data.createTime"],
                    "customer_id": "data.customer",
                    "channel": "data.method",
                },
                "values": {
                    "channel": {
                        "onsite": ["上门拜访", "拜访", "面谈"],
                        "phone": ["电话", "电话沟通"],
                        "video": ["视频会议", "线上会议"],
                    }
                },
                "unmatched": {"channel": "skip"},
            },
            "opportunity": {
                "type": "deal",
                "fields": {
                    "rep_id": _OWNER_JDY,
                    "stage": "data.stage",
                    "amount": "data.amount",
                    "closed_at": "data.close_date",
                    "customer_id": "data.customer",
                },
                "values": {"stage": _JDY_STAGES},
                "attributes": {"deal_name": "data.name"},
            },
            "quote": {
                "type": "quote",
                "fields": {
                    "rep_id": _OWNER_JDY,
                    "status": "data.status",
                    "amount": "data.amount",
                    "occurred_at": ["data.quote_date", "data.createTime"],
                    "customer_id": "data.customer",
                },
                "values": {
                    "status": {
                        "sent": ["已报价", "已发送"],
                        "accepted": ["已接受", "客户接受"],
                        "rejected": ["已拒绝", "客户拒绝"],
                    }
                },
                "skip_when": {"data.status": ["草稿"]},
            },
            "contract": {
                "type": "payment",
                "fields": {
                    "rep_id": _OWNER_JDY,
                    "invoice_id": "$record_id",
                    "amount_due": "data.amount",
                    "due_date": "data.due_date",
                    "occurred_at": ["data.sign_date", "data.createTime"],
                    "customer_id": "data.customer",
                },
                "deleted_when": {"data.status": ["已作废"]},
                "attributes": {"contract_name": "data.name"},
            },
            "payment": {
                "type": "payment",
                "fields": {
                    "rep_id": _OWNER_JDY,
                    "invoice_id": "data.contract",
                    "amount_paid": "data.amount",
                    "paid_at": "data.paid_date",
                    "customer_id": "data.customer",
                },
            },
            "complaint": {
                "type": "complaint",
                "fields": {
                    "rep_id": _OWNER_JDY,
                    "severity": "data.severity",
                    "opened_at": "data.createTime",
                    "first_response_at": "data.first_response_time",
                    "resolved_at": "data.resolved_time",
                    "customer_id": "data.customer",
                },
            },
        },
        "default_currency": "CNY",
    },
    notes=msg("webhooks.preset.jiandaoyun_crm.notes"),
)

FXIAOKE_CRM = Preset(
    name="fxiaoke-crm",
    title=msg("webhooks.preset.fxiaoke_crm.title"),
    docs=("https://apifox.com/apidoc/docs-site/528859/doc-505837",),
    settings={
        "signature": "token",
        "format": "records",
        "object_type_path": "objectApiName",
        "record_id_path": "data._id",
        "version_path": "data.last_modified_time",
        "deleted_path": "op",
        "deleted_values": ["delete", "invalid"],
    },
    objects={
        "NewOpportunityObj": "商机2.0",
        "LeadsObj": "销售线索",
        "CheckinsObj": "外勤签到 (拜访)",
    },
    mapping={
        "objects": {
            "NewOpportunityObj": {
                "type": "deal",
                "fields": {
                    "rep_id": "data.owner.0",
                    "stage": "data.sales_stage",
                    "amount": "data.amount",
                    "closed_at": {"path": "data.close_date", "epoch": "ms"},
                    "customer_id": "data.account_id",
                },
                "values": {
                    "stage": {
                        "open": ["验证客户", "需求确定", "方案/报价", "谈判审核"],
                        "won": ["赢单"],
                        "lost": ["输单", "无效"],
                    }
                },
                "deleted_when": {"data.is_deleted": [True], "data.life_status": ["invalid"]},
                "attributes": {"opportunity_name": "data.name"},
            },
            "LeadsObj": {
                "type": "lead",
                "fields": {
                    "rep_id": "data.owner.0",
                    "occurred_at": {"path": "data.create_time", "epoch": "ms"},
                    "source": "data.source",
                },
                "deleted_when": {"data.is_deleted": [True], "data.life_status": ["invalid"]},
            },
            "CheckinsObj": {
                "type": "visit",
                "fields": {
                    "rep_id": "data.owner.0",
                    "occurred_at": {"path": "data.check_in_time", "epoch": "ms"},
                    "customer_id": "data.account_id",
                },
                "defaults": {"channel": "onsite"},
                "deleted_when": {"data.is_deleted": [True], "data.life_status": ["invalid"]},
            },
        },
        "default_currency": "CNY",
    },
    notes=msg("webhooks.preset.fxiaoke_crm.notes", body=Code("{objectApiName, op, data}")),
)

XIAOSHOUYI_CRM = Preset(
    name="xiaoshouyi-crm",
    title=msg("webhooks.preset.xiaoshouyi_crm.title"),
    docs=(),
    settings={
        "signature": "token",
        "format": "records",
        "object_type_path": "entityType",
        "record_id_path": "data.id",
        "version_path": "data.updatedAt",
        "deleted_path": "op",
        "deleted_values": ["delete"],
    },
    objects={"opportunity": "商机", "lead": "线索", "activityrecord": "活动记录 (拜访)"},
    mapping={
        "objects": {
            "opportunity": {
                "type": "deal",
                "fields": {
                    "rep_id": "data.ownerId",
                    "stage": "data.saleStageName",
                    "amount": "data.money",
                    "closed_at": "data.closeDate",
                    "customer_id": "data.accountId",
                },
                "values": {
                    "stage": {
                        "open": ["初步接洽", "需求确认", "方案报价", "谈判审核"],
                        "won": ["赢单"],
                        "lost": ["输单"],
                    }
                },
                "attributes": {"opportunity_name": "data.opportunityName"},
            },
            "lead": {
                "type": "lead",
                "fields": {
                    "rep_id": "data.ownerId",
                    "occurred_at": {"path": "data.createdAt", "epoch": "ms"},
                },
            },
            "activityrecord": {
                "type": "visit",
                "fields": {
                    "rep_id": "data.ownerId",
                    "occurred_at": {"path": "data.activityDate", "epoch": "ms"},
                    "customer_id": "data.accountId",
                    "channel": "data.activityType",
                },
                "values": {
                    "channel": {"onsite": ["拜访", "上门拜访"], "phone": ["电话"]},
                },
                "unmatched": {"channel": "skip"},
            },
        },
        "default_currency": "CNY",
    },
    notes=msg("webhooks.preset.xiaoshouyi_crm.notes"),
)

KINGDEE_COSMIC = Preset(
    name="kingdee-cosmic",
    title=msg("webhooks.preset.kingdee_cosmic.title"),
    docs=(
        "https://blog.csdn.net/qq_41816402/article/details/125500700",
        "https://gitee.com/sztinyhu/projects",
    ),
    settings={
        "signature": "standard_webhooks",
        "format": "records",
        "object_type_path": "formId",
        "record_id_path": "data.id",
        "version_path": "data.modifytime",
        "version_tz": "Asia/Shanghai",
        "deleted_path": "op",
        "deleted_values": ["delete"],
    },
    objects={
        "crm_opportunity": "商机",
        "crm_clue": "线索",
        "crm_followrecord": "跟进记录",
    },
    mapping={
        "objects": {
            "crm_opportunity": {
                "type": "deal",
                "fields": {
                    "rep_id": "data.owner.number",
                    "stage": "data.stage.name",
                    "amount": "data.amount",
                    "closed_at": {
                        "path": "data.closedate",
                        "format": "%Y-%m-%d %H:%M:%S",
                        "tz": "Asia/Shanghai",
                    },
                    "occurred_at": {
                        "path": "data.modifytime",
                        "format": "%Y-%m-%d %H:%M:%S",
                        "tz": "Asia/Shanghai",
                    },
                    "customer_id": "data.customer.number",
                },
                "values": {
                    "stage": {
                        "open": ["初步接洽", "需求确认", "方案报价", "商务谈判"],
                        "won": ["赢单"],
                        "lost": ["输单"],
                    }
                },
                "attributes": {"bill_no": "data.billno"},
            },
            "crm_clue": {
                "type": "lead",
                "fields": {
                    "rep_id": "data.owner.number",
                    "occurred_at": {
                        "path": "data.createtime",
                        "format": "%Y-%m-%d %H:%M:%S",
                        "tz": "Asia/Shanghai",
                    },
                },
            },
            "crm_followrecord": {
                "type": "visit",
                "fields": {
                    "rep_id": "data.owner.number",
                    "occurred_at": {
                        "path": "data.followtime",
                        "format": "%Y-%m-%d %H:%M:%S",
                        "tz": "Asia/Shanghai",
                    },
                    "customer_id": "data.customer.number",
                    "channel": "data.followtype.name",
                },
                "values": {
                    "channel": {"onsite": ["上门拜访", "拜访"], "phone": ["电话"]},
                },
                "unmatched": {"channel": "skip"},
            },
        },
        "default_currency": "CNY",
    },
    notes=msg("webhooks.preset.kingdee_cosmic.notes"),
)

PRESETS: Final[dict[str, Preset]] = {
    p.name: p for p in (JIANDAOYUN_CRM, FXIAOKE_CRM, XIAOSHOUYI_CRM, KINGDEE_COSMIC)
}


def preset(name: str) -> Preset | None:
    """A built-in preset by name."""
    return PRESETS.get(name)
