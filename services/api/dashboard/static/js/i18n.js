// Labels in zh-CN and en. KPI, template and team names come from the API.
const LABELS = {
  "zh-CN": {
    "nav.overview": "总览", "nav.rep": "销售个人", "nav.leaderboard": "排行榜",
    "nav.alerts": "预警", "nav.targets": "目标计划", "nav.review": "复盘",
    "lang.other": "EN", "signout": "退出", "loading": "加载中…",
    "key.title": "输入 API 密钥", "key.help": "密钥只保存在本浏览器中，随请求头发送，不会出现在网址里。",
    "key.remember": "在此设备上记住", "key.submit": "进入", "key.bad": "密钥无效或没有读取权限。",
    "scope": "范围", "company": "全公司", "period": "周期", "team": "团队", "rep": "销售",
    "kpi": "指标", "rank_by": "排序依据", "score": "综合得分", "status": "状态", "all": "全部",
    "kind.year": "年", "kind.quarter": "季", "kind.month": "月", "kind.week": "周",
    "actual": "实际", "target": "目标", "expected": "预期进度", "baseline": "基线", "stretch": "挑战",
    "pace": "进度比", "pace.hint": "100% 及以上：达到或好于预期（越低越好的指标按 预期 ÷ 实际 计算）", "projection": "期末预测", "weight": "权重", "attainment": "达成率",
    "tier": "等级", "coverage": "覆盖", "sample": "样本", "no_rows": "此范围和周期还没有目标。",
    "cumulative": "累计实际与目标、预期曲线", "running": "期间值与目标",
    "as_of": "截至", "updated": "已更新", "live": "实时", "offline": "连接中断",
    "chart.actual": "实际", "chart.expected": "预期", "chart.target": "目标",
    "chart.baseline": "基线", "chart.stretch": "挑战",
    "status.ahead": "领先", "status.on_track": "正常", "status.behind": "落后",
    "status.at_risk": "风险", "status.no_target": "无目标", "status.insufficient_data": "数据不足",
    "tier.stretch_met": "达成挑战", "tier.target_met": "达成目标", "tier.baseline_met": "达成基线",
    "tier.below_baseline": "低于基线",
    "cat.result": "结果", "cat.process": "过程", "cat.capability": "能力",
    "scorecard": "计分卡", "template": "岗位模板", "progress": "进度",
    "drill": "明细", "drill.title": "构成该数字的记录", "drill.none": "没有记录。",
    "drill.records": "条记录", "drill.total": "合计", "close": "关闭", "more": "更多",
    "record": "记录", "day": "日期", "type": "类型", "share": "贡献", "source": "来源",
    "rank": "名次", "name": "姓名",
    "alerts.none": "没有符合条件的预警。", "alerts.missing": "此服务器没有预警接口。",
    "acknowledge": "确认", "acknowledged": "已确认", "severity": "级别",
    "first_seen": "首次", "last_seen": "最近", "occurrences": "次数",
    "alert.open": "未处理", "alert.acknowledged": "已确认", "alert.resolved": "已解决",
    "sev.info": "提示", "sev.warning": "警告", "sev.critical": "严重",
    "kind.lag": "进度滞后", "kind.anomaly": "异常", "kind.data_quality": "数据质量", "kind.system": "系统",
    "targets.none": "没有目标。", "version": "版本", "versions": "版本历史", "recorded_at": "时间",
    "author": "修改人", "reason": "原因", "children": "分解", "parent": "上级目标",
    "acknowledged_by": "确认人", "yes": "是", "no": "否",
    "finding.plan_mismatch": "分解不平", "split.org": "下级",
    "split.year": "年度", "split.quarter": "季度", "split.month": "月度", "split.week": "周",
    "mismatch.detail": "{children}个{split}子目标合计 {sum}，本目标 {parent}，差额 {diff}",
    "review.missing": "此服务器没有复盘接口。", "review.distribution": "达成分布（人数）",
    "review.findings": "发现", "review.table": "达成表", "review.misses": "未达成的驱动因素",
    "review.suggestions": "下期建议目标", "review.none": "没有发现。",
    "driver": "驱动因素", "effect": "影响", "gap": "差距", "planned": "计划",
    "bucket.<80%": "<80%", "bucket.80-100%": "80–100%", "bucket.100-120%": "100–120%", "bucket.>=120%": "≥120%",
    "error": "出错了", "retry": "重试", "members": "成员",
    "closing.closed": "已月结", "closing.closed_detail": "{period} 已于 {at} 由 {by} 月结", "closing.reason": "原因",
    "closing.months": "已月结月份", "closing.policy.adjust": "之后到达的变更记入第一个未结月份",
    "closing.policy.restate": "之后到达的变更重述到原月份",
    "closing.do": "月结本月", "closing.submit": "确认月结", "closing.reopen": "重新开启",
    "closing.reopen_submit": "确认重新开启", "closing.reason_optional": "原因（可选）",
    "closing.reason_required": "重新开启的原因（必填）",
    "adj.mark": "含调整 {amount}（{count} 笔）", "adj.title": "记入本期的调整", "adj.hint": "已月结月份在月结后发生的变更，记入本期",
    "adj.none": "没有调整。", "adj.known_at": "获知时间", "adj.source_day": "原属日期", "adj.booked_day": "记入日期",
    "adj.event": "事件", "adj.value": "金额/数量", "adj.total": "合计", "adj.shown": "显示前 {n} 笔",
  },
  "en": {
    "nav.overview": "Overview", "nav.rep": "Reps", "nav.leaderboard": "Leaderboard",
    "nav.alerts": "Alerts", "nav.targets": "Plan", "nav.review": "Review",
    "lang.other": "中文", "signout": "Sign out", "loading": "Loading…",
    "key.title": "Enter an API key", "key.help": "The key stays in this browser and travels in a request header, never in a URL.",
    "key.remember": "Remember on this device", "key.submit": "Open", "key.bad": "The key is not valid or cannot read.",
    "scope": "Scope", "company": "Company", "period": "Period", "team": "Team", "rep": "Rep",
    "kpi": "KPI", "rank_by": "Rank by", "score": "Score", "status": "Status", "all": "All",
    "kind.year": "Year", "kind.quarter": "Quarter", "kind.month": "Month", "kind.week": "Week",
    "actual": "Actual", "target": "Target", "expected": "Expected", "baseline": "Baseline", "stretch": "Stretch",
    "pace": "Pace", "pace.hint": "100% or more: on or better than expected (expected ÷ actual when lower is better)", "projection": "Projection", "weight": "Weight", "attainment": "Attainment",
    "tier": "Tier", "coverage": "Coverage", "sample": "Sample", "no_rows": "No targets for this scope and period yet.",
    "cumulative": "Cumulative actual vs target and expected curve", "running": "Value so far vs target",
    "as_of": "As of", "updated": "Updated", "live": "Live", "offline": "Connection lost",
    "chart.actual": "Actual", "chart.expected": "Expected", "chart.target": "Target",
    "chart.baseline": "Baseline", "chart.stretch": "Stretch",
    "status.ahead": "Ahead", "status.on_track": "On track", "status.behind": "Behind",
    "status.at_risk": "At risk", "status.no_target": "No target", "status.insufficient_data": "Too little data",
    "tier.stretch_met": "Stretch met", "tier.target_met": "Target met", "tier.baseline_met": "Baseline met",
    "tier.below_baseline": "Below baseline",
    "cat.result": "Result", "cat.process": "Process", "cat.capability": "Capability",
    "scorecard": "Scorecard", "template": "Role template", "progress": "Progress",
    "drill": "Details", "drill.title": "The records behind this number", "drill.none": "No records.",
    "drill.records": "records", "drill.total": "Total", "close": "Close", "more": "More",
    "record": "Record", "day": "Day", "type": "Type", "share": "Share", "source": "Source",
    "rank": "Rank", "name": "Name",
    "alerts.none": "No alerts match.", "alerts.missing": "This server has no alerts API.",
    "acknowledge": "Acknowledge", "acknowledged": "Acknowledged", "severity": "Severity",
    "first_seen": "First seen", "last_seen": "Last seen", "occurrences": "Times",
    "alert.open": "Open", "alert.acknowledged": "Acknowledged", "alert.resolved": "Resolved",
    "sev.info": "Info", "sev.warning": "Warning", "sev.critical": "Critical",
    "kind.lag": "Lag", "kind.anomaly": "Anomaly", "kind.data_quality": "Data quality", "kind.system": "System",
    "targets.none": "No targets.", "version": "Version", "versions": "Versions", "recorded_at": "When",
    "author": "By", "reason": "Reason", "children": "Split into", "parent": "Parent target",
    "acknowledged_by": "Acknowledged by", "yes": "yes", "no": "no",
    "finding.plan_mismatch": "Does not add up", "split.org": "org",
    "split.year": "yearly", "split.quarter": "quarterly", "split.month": "monthly", "split.week": "weekly",
    "mismatch.detail": "{children} {split} children sum to {sum}; this target {parent}; difference {diff}",
    "review.missing": "This server has no review API.", "review.distribution": "Attainment distribution (reps)",
    "review.findings": "Findings", "review.table": "Attainment table", "review.misses": "Drivers of misses",
    "review.suggestions": "Suggested targets for the next period", "review.none": "No findings.",
    "driver": "Driver", "effect": "Effect", "gap": "Gap", "planned": "Planned",
    "bucket.<80%": "<80%", "bucket.80-100%": "80–100%", "bucket.100-120%": "100–120%", "bucket.>=120%": "≥120%",
    "error": "Something went wrong", "retry": "Retry", "members": "Members",
    "closing.closed": "Closed", "closing.closed_detail": "{period} closed {at} by {by}", "closing.reason": "Reason",
    "closing.months": "Closed months", "closing.policy.adjust": "later changes are booked to the first open month",
    "closing.policy.restate": "later changes restate the closed month",
    "closing.do": "Close this month", "closing.submit": "Close month", "closing.reopen": "Reopen",
    "closing.reopen_submit": "Reopen month", "closing.reason_optional": "Reason (optional)",
    "closing.reason_required": "Why reopen (required)",
    "adj.mark": "incl. adjustments {amount} ({count})", "adj.title": "Adjustments booked into this period", "adj.hint": "Changes to closed months that arrived after the close, booked here",
    "adj.none": "No adjustments.", "adj.known_at": "Known", "adj.source_day": "Belongs to", "adj.booked_day": "Booked on",
    "adj.event": "Event", "adj.value": "Value", "adj.total": "Total", "adj.shown": "first {n} shown",
  },
};

export const LANGS = ["zh-CN", "en"];
let current = "zh-CN";

export function setLang(lang) {
  current = LANGS.includes(lang) ? lang : "zh-CN";
  document.documentElement.lang = current;
}

export function lang() {
  return current;
}

export function t(key) {
  return LABELS[current][key] ?? LABELS.en[key] ?? key;
}

// A name from the API: {"zh-CN": ..., "en": ...}.
export function pick(names, fallback = "") {
  if (!names) return fallback;
  return names[current] ?? names.en ?? Object.values(names)[0] ?? fallback;
}
