"""CSV cells that no spreadsheet will run (shared/web/csv_out.py)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from paceline.shared.web.csv_out import csv_lines, csv_text, neutralise


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("-40000.0000", "-40000.0000"),  # a negative number as text stays a number
        ("+12", "+12"),
        ("-1.5E+3", "-1.5E+3"),  # an exponent is still a plain number
        ("\t1", "'\t1"),  # "plain" is strict: nothing around the digits
        ("-1\t", "'-1\t"),
        ("\r-1", "'\r-1"),
        ("-", "'-"),
        ("-Infinity", "'-Infinity"),
        ("-1_000", "'-1_000"),
        (Decimal("-5.5"), Decimal("-5.5")),
        (None, None),
        (3, 3),
        ("Ann", "Ann"),
    ],
)
def test_neutralise(value: object, cell: object) -> None:
    assert neutralise(value) == cell


def test_every_cell_of_a_table_is_neutralised() -> None:
    text = csv_text(["name", "gap"], [{"name": "=cmd()", "gap": "-3.0000", "extra": "=x"}])
    assert list(csv.DictReader(io.StringIO(text))) == [{"name": "'=cmd()", "gap": "-3.0000"}]
    assert csv_lines([["h"], ["@x"]]) == "h\n'@x\n"


@pytest.mark.parametrize(
    ("excel", "locale", "for_people", "bom"),
    [
        (True, "en", False, True),  # asked for: always
        (False, "zh-CN", True, False),  # refused: never
        (None, "zh-CN", True, True),  # a file for people in a zh-CN tenant
        (None, "zh_cn", True, True),
        (None, "en", True, False),
        (None, "zh-CN", False, False),  # BI feeds: never by default
        (None, None, True, False),
    ],
)
def test_when_a_csv_answer_starts_with_a_bom(
    excel: bool | None, locale: str | None, for_people: bool, bom: bool
) -> None:
    from paceline.shared.web.csv_out import csv_response, wants_bom

    assert wants_bom(excel, locale=locale, for_people=for_people) is bom
    resp = csv_response(
        csv_text(["name"], [{"name": "李娜"}]),
        excel=excel,
        locale=locale,
        for_people=for_people,
        filename="reps.csv",
    )
    assert resp.body.startswith(b"\xef\xbb\xbf") is bom
    assert resp.headers["content-type"] == "text/csv; charset=utf-8"
    assert resp.headers["content-disposition"] == 'attachment; filename="reps.csv"'
    rows = list(csv.DictReader(io.StringIO(bytes(resp.body).decode("utf-8-sig"))))
    assert rows == [{"name": "李娜"}]
