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
