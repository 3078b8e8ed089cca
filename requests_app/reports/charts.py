"""Charts for the reports, drawn on the server as SVG with matplotlib.

No script and nothing from another site: the page shows the SVG as an image, with the
same numbers in a table beside it. Colours are a colour-blind-safe set (Okabe and Ito)
and every series is labelled in a legend; text stays text in the SVG.
"""

import io

import matplotlib

matplotlib.use("Agg")  # before anything else of matplotlib: no display here

from matplotlib.figure import Figure  # noqa: E402

from .queries import MAX_DAYS_SHOWN, DaysRow, OutcomeRow  # noqa: E402

matplotlib.rcParams.update(
    {
        "svg.fonttype": "none",
        "font.family": "sans-serif",
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.hashsalt": "illdesk",  # the same figures draw the same file
    }
)

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


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def _empty(figure: Figure, message: str) -> str:
    axes = figure.add_subplot()
    axes.axis("off")
    axes.text(0.5, 0.5, message, ha="center", va="center")
    return _svg(figure)


def requests_by_month(rows: list[OutcomeRow]) -> str:
    """Stacked bars: each month's requests by outcome."""
    figure = Figure(figsize=(9, 3.6))
    if not rows:
        return _empty(figure, "No requests in this period.")
    axes = figure.add_subplot()
    labels = [f"{row.month:%b %Y}" for row in rows]
    bottom = [0] * len(rows)
    for outcome in ("filled", "unfilled", "cancelled", "lost", "open"):
        values = [getattr(row, outcome) for row in rows]
        axes.bar(labels, values, bottom=bottom, label=outcome.capitalize(), color=COLOURS[outcome])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.set_ylabel("Requests submitted")
    axes.legend(ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    axes.tick_params(axis="x", labelrotation=45)
    for label in axes.get_xticklabels():
        label.set_horizontalalignment("right")
    return _svg(figure)


def turnaround(rows: list[DaysRow]) -> str:
    """Side-by-side bars: how many loans took each number of days to ship and to arrive."""
    figure = Figure(figsize=(9, 3.6))
    if not rows:
        return _empty(figure, "No loans shipped in this period.")
    axes = figure.add_subplot()
    width = 0.42
    for offset, label, field in (
        (-width / 2, "Submitted to shipped", "to_ship"),
        (width / 2, "Submitted to received", "to_arrive"),
    ):
        axes.bar(
            [row.days + offset for row in rows],
            [getattr(row, field) for row in rows],
            width=width,
            label=label,
            color=COLOURS[field],
        )
    axes.set_xlabel(f"Days after submission ({MAX_DAYS_SHOWN} means {MAX_DAYS_SHOWN} or more)")
    axes.set_ylabel("Loans")
    axes.legend(frameon=False)
    return _svg(figure)
