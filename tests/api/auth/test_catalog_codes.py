"""Codes the admin, auth and web areas build at run time (not literal in the source, so
the catalog test cannot see them) exist in both locales; URL refusals read as catalog
messages."""

from __future__ import annotations

import pytest

from paceline.api.auth import text
from paceline.shared.auth import ROLES
from paceline.shared.i18n import Msg, render
from paceline.shared.i18n.catalogs import catalog
from paceline.shared.web.deps import role_name
from paceline.shared.web.security import url_refusal


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_run_time_codes_exist(locale: str) -> None:
    known = catalog(locale)
    codes = [text.refusal(c).code for c in text.REFUSALS]
    codes += [f"users.role.{r}" for r in ROLES]
    codes += ["keys.state.revoked", "keys.state.expired"]
    assert [c for c in codes if c not in known] == []


def test_roles_read_as_words() -> None:
    manager = role_name("manager")
    assert isinstance(manager, Msg)
    assert render(manager, "zh-CN") == "经理"
    assert role_name("someone") == "someone"


def test_refusal_page_is_in_the_asked_language() -> None:
    page = text.refusal_page("inactive_user", "zh-CN")
    assert '<html lang="zh-CN">' in page
    assert "您的用户已停用" in page
    assert 'data-code="inactive_user"' in page
    assert "Your user is deactivated" in text.refusal_page("inactive_user", "en")


@pytest.mark.parametrize(
    ("url", "code", "zh"),
    [
        ("ftp://example.com/x", "web.url.scheme", "必须是以 http:// 或 https:// 开头的网址"),
        ("https://exa mple.com", "web.url.control_characters", "不能包含控制字符或空格"),
        ("https://example.com:0/", "web.url.port_range", "端口必须在 1 到 65535 之间"),
        (
            "https://127.1/hook",
            "web.url.not_public",
            "'127.1' 不是公网地址；Paceline 只调用公网地址",
        ),
    ],
)
def test_url_refusals_are_catalog_messages(url: str, code: str, zh: str) -> None:
    refusal = url_refusal(url, allow_private=False)
    assert refusal is not None
    assert (refusal.code, render(refusal, "zh-CN")) == (code, zh)
    assert url_refusal("https://example.com/hook", allow_private=False) is None
