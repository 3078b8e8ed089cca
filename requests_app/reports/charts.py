"""The reports' two charts, drawn as SVG by a small function of our own.

A bar chart is rectangles and text on a grid: an axis of counts with round ticks, bars
side by side or stacked, a legend. No script and nothing from another site: the page shows
the SVG as an image with a text alternative, and the same numbers in a table beside it.
The colours are a colour-blind-safe set (Okabe and Ito), every series is named in the
legend, and the same figures always draw the same file.
"""

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from .queries import MAX_DAYS_SHOWN, DaysRow, OutcomeRow

#: Okabe–Ito: told apart with every common kind of colour blindness.
COLOURS = {
    "filled": "#009E73",
    "unfilled": "#D55E00",
    "cancelled": "#999999",
    "lost": "#CC79A7",
    "open": "#56B4E9",
    "to_ship": "#0072B2",
    "to_arrive": "#E69F00",
}

WIDTH, HEIGHT = 900, 360
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 96
INK, GRID = "#1b1b1b", "#d0d0d0"
FONT = 'font-family="sans-serif" font-size="12"'


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    values: list[int]


def _ticks(top: int) -> list[int]:
    """Round ticks from 0 to at least ``top``: 0, 5, 10 … or 0, 20, 40 …"""
    if top <= 0:
        return [0, 1]
    rough = top / 4
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    step = max(int(step), 1)
    return list(range(0, math.ceil(top / step) * step + 1, step))


def _text(x: float, y: float, words: str, anchor: str = "middle", extra: str = "") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{INK}" {FONT}{extra}>'
        f"{escape(words)}</text>"
    )


def bar_chart(
    *,
    title: str,
    categories: list[str],
    series: list[Series],
    stacked: bool,
    y_label: str,
    x_label: str = "",
    label_every: int = 1,
) -> str:
    """An SVG bar chart: one group (or stack) of bars a category, a bar a series."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = [
        sum(s.values[i] for s in series) if stacked else max(s.values[i] for s in series)
        for i in range(len(categories))
    ]
    ticks = _ticks(max(totals, default=0))
    scale = plot_h / ticks[-1]
    slot = plot_w / max(len(categories), 1)
    bar_w = slot * 0.8 / (1 if stacked else len(series))
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="title">',
        f'<title id="title">{escape(title)}</title>',
    ]
    for tick in ticks:
        y = TOP + plot_h - tick * scale
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(_text(LEFT - 6, y + 4, f"{tick:,}", anchor="end"))
    parts.append(
        _text(
            16,
            TOP + plot_h / 2,
            y_label,
            extra=f' transform="rotate(-90 16 {TOP + plot_h / 2:.1f})"',
        )
    )
    for index, category in enumerate(categories):
        x0 = LEFT + index * slot + slot * 0.1
        base: float = TOP + plot_h
        for number, one in enumerate(series):
            value = one.values[index]
            height = value * scale
            x = x0 if stacked else x0 + number * bar_w
            y = base - height
            if value:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{height:.1f}" '
                    f'fill="{one.colour}"><title>{escape(one.label)}, '
                    f"{escape(category)}: {value:,}</title></rect>"
                )
            if stacked:
                base = y
        if index % label_every == 0:
            cx = LEFT + index * slot + slot / 2
            parts.append(
                _text(
                    cx,
                    TOP + plot_h + 16,
                    category,
                    anchor="end" if stacked else "middle",
                    extra=f' transform="rotate(-45 {cx:.1f} {TOP + plot_h + 16})"'
                    if stacked
                    else "",
                )  # fmt: skip
            )
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" '
        f'stroke="{INK}" stroke-width="1"/>'
    )
    if x_label:
        parts.append(_text(LEFT + plot_w / 2, HEIGHT - 40, x_label))
    x = LEFT
    for one in series:
        parts.append(
            f'<rect x="{x}" y="{HEIGHT - 22}" width="12" height="12" fill="{one.colour}"/>'
        )
        parts.append(_text(x + 18, HEIGHT - 12, one.label, anchor="start"))
        x += 28 + 7 * len(one.label)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _empty(title: str, message: str) -> str:
    return (
        "\n".join(
            [
                '<?xml version="1.0" encoding="utf-8"?>',
                f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
                f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label={quoteattr(title)}>',
                _text(WIDTH / 2, HEIGHT / 2, message),
                "</svg>",
            ]
        )
        + "\n"
    )


def requests_by_month(rows: list[OutcomeRow]) -> str:
    """Stacked bars: each month's requests by outcome."""
    title = "Requests submitted each month, by outcome"
    if not rows:
        return _empty(title, "No requests in this period.")
    outcomes = ("filled", "unfilled", "cancelled", "lost", "open")
    return bar_chart(
        title=title,
        categories=[f"{row.month:%b %Y}" for row in rows],
        series=[
            Series(o.capitalize(), COLOURS[o], [getattr(row, o) for row in rows]) for o in outcomes
        ],
        stacked=True,
        y_label="Requests submitted",
    )


def turnaround(rows: list[DaysRow]) -> str:
    """Side-by-side bars: how many loans took each number of days to ship and to arrive."""
    title = "Days from submission to shipment and to receipt"
    if not rows:
        return _empty(title, "No loans shipped in this period.")
    by_day = {row.days: row for row in rows}
    days = list(range(0, max(by_day) + 1))
    return bar_chart(
        title=title,
        categories=[str(day) for day in days],
        series=[
            Series(label, COLOURS[field], [getattr(by_day.get(d), field, 0) for d in days])
            for label, field in (
                ("Submitted to shipped", "to_ship"),
                ("Submitted to received", "to_arrive"),
            )
        ],
        stacked=False,
        y_label="Loans",
        x_label=f"Days after submission ({MAX_DAYS_SHOWN} means {MAX_DAYS_SHOWN} or more)",
        label_every=max(1, len(days) // 15),
    )
