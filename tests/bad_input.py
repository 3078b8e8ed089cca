"""Bad input for the form fuzz (``tests/requests_app/web/test_form_fuzz.py``), as hypothesis
strategies.

``anything()`` is what a person, a paste or a script can put in any field: huge text,
every plane of Unicode (astral and emoji, right-to-left, combining marks), control
characters with NUL among them, markup, letters where digits belong, dates and numbers far
out of range, and several values where one belongs. The ``refused_*`` strategies are
values a field must refuse, read from what its HTML says it takes: a length, a date, a
number, one of its choices, something at all.
"""

import datetime as dt

from hypothesis import strategies as st

#: Markup that would run if a page put it out unescaped, and the piece of each that only
#: unescaped output contains (escaped, ``<`` and the quotes become entities).
MARKUP = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    '" autofocus onfocus="alert(1)',
    "</textarea><script>alert(1)</script>",
)
UNESCAPED = ("<script>alert(1)", "<img src=x onerror", "<svg onload", '" autofocus onfocus=')

ODD_TEXT = (
    "\U0001f984\U0001f4da",  # emoji, beyond the Basic Multilingual Plane
    "\U0001d57f\U0001d58d\U0001d58d",  # mathematical letters, astral too
    "\u0645\u0643\u062a\u0628\u0629 \u05e1\u05e4\u05e8\u05d9\u05d9\u05d4",  # Arabic, Hebrew
    "\u202egnp.exe",  # a right-to-left override
    "e\u0301\u0302\u0303\u0304\u0305\u0306",  # a pile of combining marks
    "\ufeffBOM",
    "zero\u200bwidth",
    "line\u2028separator",
    "\u00a0\u3000",  # whitespace Python strips
    "NaN",
    "None",
    "null",
    "[]",
    "%00",
    "' OR '1'='1",
    "../../etc/passwd",
    "{{ 7|add:7 }}{% now 'Y' %}",
    "javascript:alert(1)",
)
CONTROL_CHARACTERS = "\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x7f\x85\u200e\u2028\u2029"
NUMBER_TEXT = (
    "-1",
    "-0",
    "0.001",
    "1.005",
    "1e400",
    "-1e400",
    "1E+9999999",
    "9" * 60,
    "1" + "0" * 5000,
    "99999999.99",
    "1_000",
    "\u0661\u0662\u0663",  # Arabic-Indic digits
    "\uff11\uff12",  # full-width digits
    "0x1F",
    "12abc",
    "1,50",
    "$5",
    "Infinity",
    "-Infinity",
    "sNaN",
)
DATE_TEXT = (
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "275760-09-13",
    "-0001-01-01",
    "0000-00-00",
    "2024-02-30",
    "2023-13-01",
    "1969-12-31",
    "31/12/2024",
    "12/31/99",
    "today",
    "2024-01-01T25:61",
    "2024-01-01\x00",
)
#: Units a too-long value repeats: none has whitespace at its edges, which forms strip.
LONG_UNITS = ("x", "\U0001f984", "\u00e9", "e\u0301", "<b>", "\u0644", MARKUP[0])


def markup() -> st.SearchStrategy[str]:
    """A markup payload, alone or inside other text."""
    return st.builds(
        lambda before, payload, after: before + payload + after,
        st.sampled_from(["", "A title ", "\u05e2"]),
        st.sampled_from(MARKUP),
        st.sampled_from(["", " and more", "\x00"]),
    )


def huge() -> st.SearchStrategy[str]:
    """Text from a thousand to twenty thousand characters: more than any field takes."""
    return st.builds(
        lambda unit, times: unit * times,
        st.sampled_from([*LONG_UNITS, " ", "\x00", "ab\u202e"]),
        st.integers(min_value=1_000, max_value=20_000),
    )


def controls() -> st.SearchStrategy[str]:
    return st.text(alphabet=CONTROL_CHARACTERS, min_size=1, max_size=10).flatmap(
        lambda junk: st.sampled_from([junk, f"A{junk}B", f"{junk}2024-01-01"])
    )


def numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NUMBER_TEXT),
        st.integers().map(str),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.floats().map(repr),
    )


def dates() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(DATE_TEXT),
        st.dates().map(lambda day: day.isoformat()),
        st.integers(min_value=-(10**6), max_value=10**6).map(lambda year: f"{year}-01-01"),
    )


def one_value() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(),  # any code point but surrogates, so astral, RTL and combining too
        st.sampled_from(ODD_TEXT),
        markup(),
        controls(),
        with_nul(),
        huge(),
        numbers(),
        dates(),
    )


def anything() -> st.SearchStrategy[str | list[str]]:
    """Any value for any field, or two or three of them (the key repeated)."""
    return st.one_of(one_value(), st.lists(one_value(), min_size=2, max_size=3))


# --- Values a field must refuse ---------------------------------------------------------


def with_nul() -> st.SearchStrategy[str]:
    return st.builds(lambda before, after: f"{before}\x00{after}", st.text(), st.text())


def longer_than(limit: int) -> st.SearchStrategy[str]:
    return st.builds(
        lambda unit, extra: (unit * (limit + extra))[: limit + extra],
        st.sampled_from(LONG_UNITS),
        st.integers(min_value=1, max_value=5_000),
    )


def blank() -> st.SearchStrategy[str]:
    return st.sampled_from(["", " ", "\t\r\n", "\u00a0\u3000"])


def not_a_date() -> st.SearchStrategy[str]:
    """Text no date format reads: wrong days and months, years beyond 9999 or before 1."""
    return st.one_of(
        st.sampled_from(
            [
                "10000-01-01",
                "275760-09-13",
                "-0001-01-01",
                "0000-00-00",
                "2024-02-30",
                "2023-13-01",
                "2024-01-01\x00",
                "yesterday",
                "\U0001f4c5",
                MARKUP[0],
            ]
        ),
        st.text().map(lambda text: "x" + text),
        with_nul(),
    )


def far_from(today: dt.date, years: int) -> st.SearchStrategy[str]:
    """A real date more than ``years`` before or after ``today``: year 1, 9999, a typo."""
    gap = dt.timedelta(days=366 * years + 1)
    return st.one_of(
        st.sampled_from(["0001-01-01", "0224-05-17", "2204-05-17", "9999-12-31"]),
        st.dates(max_value=today - gap).map(dt.date.isoformat),
        st.dates(min_value=today + gap).map(dt.date.isoformat),
    ).filter(lambda text: abs(dt.date.fromisoformat(text) - today) > gap)


def not_a_number(
    *, minimum: str | None = None, maximum: str | None = None, step: str | None = None
) -> st.SearchStrategy[str]:
    """Text that is no number, and numbers outside what the input says it takes."""
    refused = [
        st.sampled_from(["12abc", "abc", "0x1F", "1,50", "$5", "NaN", "Infinity", "-Infinity"]),
        st.text().map(lambda text: "z" + text),
        with_nul(),
    ]
    if minimum is not None:
        refused.append(st.sampled_from([f"{minimum}-1", str(float(minimum) - 1), "-1e400"]))
    if maximum is not None:
        refused.append(st.sampled_from([str(float(maximum) + 1), "1e400", "9" * 60]))
    if step not in (None, "any") and "." in step:
        refused.append(st.just("1." + "0" * len(step.split(".")[1]) + "1"))
    return st.one_of(refused)


def not_an_email() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["plainaddress", "a@", "@b.org", "a@b@c.org", MARKUP[1], "a\x00@b.org"]),
        st.text(alphabet=st.characters(exclude_characters="@")).map(lambda text: "x" + text),
    )


def not_a_choice(choices: set[str]) -> st.SearchStrategy[str]:
    """A value that is none of ``choices`` and cannot be read as one (no bare digits)."""
    return st.one_of(
        st.sampled_from([*MARKUP, "\x00", "z", "-", "1.5", "None"]),
        st.text().map(lambda text: "z" + text),
        st.integers(min_value=10**12, max_value=10**30).map(str),
    ).filter(lambda value: value not in choices)
