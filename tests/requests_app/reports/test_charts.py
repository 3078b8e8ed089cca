"""The reports' charts: SVG of our own, well formed, the same every time, its numbers the
table's, and its words escaped."""

import datetime as dt
import xml.etree.ElementTree as ET

from requests_app.reports import charts
from requests_app.reports.queries import DaysRow, OutcomeRow

SVG = "{http://www.w3.org/2000/svg}"


def bars(svg: str) -> list[ET.Element]:
    """The data bars (the legend's swatches are 12 wide and have no title)."""
    root = ET.fromstring(svg.split("\n", 1)[1])  # noqa: S314 - our own SVG
    return [rect for rect in root.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]


def test_stacked_bars_carry_each_outcome_and_add_up():
    rows = [
        OutcomeRow("", dt.date(2026, 1, 1), filled=3, unfilled=1),
        OutcomeRow("", dt.date(2026, 2, 1), filled=2, cancelled=2, open=4),
    ]
    svg = charts.requests_by_month(rows)
    drawn = bars(svg)
    titles = [rect.find(f"{SVG}title").text for rect in drawn]
    assert titles == [
        "Filled, Jan 2026: 3",
        "Unfilled, Jan 2026: 1",
        "Filled, Feb 2026: 2",
        "Cancelled, Feb 2026: 2",
        "Open, Feb 2026: 4",
    ]
    heights = [float(rect.get("height")) for rect in drawn]
    # February's 8 stand as tall as two of January's 4: one scale for every bar.
    assert abs(sum(heights[2:]) - 2 * sum(heights[:2])) < 0.5
    assert charts.requests_by_month(rows) == svg  # the same figures, the same file


def test_grouped_bars_fill_the_days_between_and_name_the_axis():
    svg = charts.turnaround([DaysRow(1, 2, 0), DaysRow(3, 0, 5)])
    titles = [rect.find(f"{SVG}title").text for rect in bars(svg)]
    assert titles == ["Submitted to shipped, 1: 2", "Submitted to received, 3: 5"]
    assert "Days after submission (60 means 60 or more)" in svg
    assert "<script" not in svg


def test_words_are_escaped_and_an_empty_period_says_so():
    svg = charts.bar_chart(
        title="A <b>&",
        categories=["<x>"],
        series=[charts.Series("S & T", "#000000", [1])],
        stacked=True,
        y_label="n",
    )
    ET.fromstring(svg.split("\n", 1)[1])  # noqa: S314 - well formed, our own
    assert "&lt;x&gt;" in svg and "S &amp; T" in svg and "<b>" not in svg
    assert "No requests in this period." in charts.requests_by_month([])


def test_ticks_are_round_and_reach_the_top():
    assert charts._ticks(7) == [0, 2, 4, 6, 8]
    assert charts._ticks(100) == [0, 50, 100]
    assert charts._ticks(0) == [0, 1]
