"""``manage.py seed_demo``: a lived-in demo service to click through after ``make run``.

Six member libraries across the regions, a lender of every kind with dated availability
reports, patrons, staff accounts (password ``illdesk-demo``) and about forty requests, one
or more in every status. Every request is submitted with ``workflow.submit_request`` and
moved on by the real workflow functions (``scenarios.drive_to`` plus a few hand-made
steps), so its timeline, lender attempts, renewals, charges and outbox rows are exactly
what the desk itself would have written.

The demo libraries' ILL codes are the marker: when any of them exists the command changes
nothing and says so, so ``make run`` may run it every time. Everything is written in one
transaction: a failure leaves the database as it was.

The data are fictional (names, addresses, 555-01xx phone numbers, example.org e-mail);
the ISBNs and ISSNs are real ones with valid check digits.
"""

import datetime as dt
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from lenders.models import AvailabilityReport, Lender
from members.models import MemberLibrary, Patron, Region, User
from members.tokens import issue_token
from requests_app import corrections, jobs, services, traces, workflow
from requests_app.models import (
    BorrowingRequest,
    Charge,
    ChargeKind,
    ChargePayer,
    DvdRegion,
    ExchangeMessage,
    Format,
    LenderAttempt,
    Message,
    Notification,
    RenewalRequest,
    ShippingMethod,
    Status,
    StatusEvent,
    UnrequestedItemReport,
    VideoEncoding,
)
from requests_app.scenarios import drive_to, steps_to

DEMO_PASSWORD = "illdesk-demo"  # noqa: S105 - a published demo password, by design.
#: The demo lender of ``manage.py iso18626_peer`` (``make run`` starts it), and the
#: password the demo's exchanging lenders share with illdesk.
DEMO_PEER = os.environ.get("ILLDESK_DEMO_PEER", "http://127.0.0.1:8765")
DEMO_PEER_PASSWORD = "demo-partner"  # noqa: S105 - the demo lender's, published by design.
#: The demo's lenders that exchange ISO 18626 messages: symbol -> (agency id, scenario).
EXCHANGING = {
    "CWQ": ("US-MA-CWSU", "loan"),
    "PVQ": ("US-MA-PVCC", "will-supply"),
    "GMQ": ("US-VT-GMU", "renew-no"),
}

# --- Member libraries -------------------------------------------------------------------

LIBRARIES = [
    {
        "name": "Merrimack Falls Public Library",
        "ill_code": "MFPL",
        "bpl_number": "2999001842",
        "library_type": MemberLibrary.LibraryType.PUBLIC,
        "region": "Northeast",
        "on_delivery": True,
        "delivery_route_code": "NE-14",
        "address": "212 Canal Street\nMerrimack Falls, MA 01850",
        "contact_name": "Dana Whitcomb",
        "contact_email": "ill@merrimackfalls.example.org",
        "contact_phone": "978-555-0142",
        "max_cost": Decimal("25.00"),
        "notes": "Outreach van serves homebound patrons on Tuesdays.",
    },
    {
        "name": "Hilltown Free Public Library",
        "ill_code": "HILLT",
        "bpl_number": "2999002317",
        "library_type": MemberLibrary.LibraryType.PUBLIC,
        "region": "Western",
        "on_delivery": False,
        "delivery_route_code": "",
        "address": "4 Meetinghouse Road\nHilltown, MA 01098",
        "contact_name": "Ruth Ashfield",
        "contact_email": "ill@hilltownlibrary.example.org",
        "contact_phone": "413-555-0176",
        "max_cost": Decimal("0.00"),
        "notes": "Not on Delivery: loans come and go by mail. Open Tue, Thu and Sat only.",
    },
    {
        "name": "Quinapoxet Regional High School Library",
        "ill_code": "QRHS",
        "bpl_number": "2999003065",
        "library_type": MemberLibrary.LibraryType.SCHOOL,
        "region": "Central",
        "on_delivery": True,
        "delivery_route_code": "CE-07",
        "address": "1 Regional Drive\nHolden Mills, MA 01520",
        "contact_name": "Marcus Oyelaran",
        "contact_email": "library@quinapoxet.example.org",
        "contact_phone": "508-555-0119",
        "max_cost": Decimal("10.00"),
        "notes": "Closed during school vacations; no Delivery stop in July and August.",
    },
    {
        "name": "Acushnet River College Library",
        "ill_code": "ARCL",
        "bpl_number": "2999004120",
        "oclc_symbol": "ARQ",
        "library_type": MemberLibrary.LibraryType.ACADEMIC,
        "region": "Southeastern",
        "on_delivery": True,
        "delivery_route_code": "SE-22",
        # Raised to 50.00 below, so the profile shows a history of who changed it.
        "max_cost": Decimal("25.00"),
        "address": "800 Purchase Street\nFairhaven Point, MA 02719",
        "contact_name": "Teresa Pimentel",
        "contact_email": "ill@acushnetriver.example.edu",
        "contact_phone": "508-555-0163",
        "notes": "Nursing program: medical titles through the special lenders are welcome.",
    },
    {
        "name": "Assabet Valley Historical Society Library",
        "ill_code": "AVHS",
        "bpl_number": "2999005281",
        "library_type": MemberLibrary.LibraryType.SPECIAL,
        "region": "Metrowest",
        "on_delivery": False,
        "delivery_route_code": "",
        "address": "37 Mill Pond Lane\nAssabet, MA 01754",
        "contact_name": "Eleanor Hwang",
        "contact_email": "research@assabethistory.example.org",
        "contact_phone": "978-555-0188",
        "max_cost": Decimal("10.00"),
        "notes": "Volunteer-run; reading room only, so most loans are library use only.",
    },
    {
        "name": "Fort Point Channel Community Library",
        "ill_code": "FTPT",
        "bpl_number": "2999006433",
        "library_type": MemberLibrary.LibraryType.PUBLIC,
        "region": "Boston",
        "on_delivery": True,
        "delivery_route_code": "BO-03",
        "address": "55 Sleeper Street\nBoston, MA 02210",
        "contact_name": "Jamal Brooks",
        "contact_email": "ill@fortpointlibrary.example.org",
        "contact_phone": "617-555-0131",
        # Its media desk's players are region-free and play PAL: any disc will do.
        "dvd_region": "",
        "video_encoding": "",
        "max_cost": Decimal("25.00"),
        "notes": "",
    },
]
DEMO_ILL_CODES = [library["ill_code"] for library in LIBRARIES]

#: (library ILL code, card number, name, homebound)
PATRONS = [
    ("MFPL", "21842000310457", "Margaret O'Donnell", True),
    ("MFPL", "21842000322618", "Luis Cabrera", False),
    ("MFPL", "21842000337092", "Priya Raman", False),
    ("HILLT", "22317000014420", "Walter Brigham", False),
    ("HILLT", "22317000015583", "Jenna Kowal", False),
    ("QRHS", "23065000208811", "Tyler Nguyen-Park", False),
    ("QRHS", "23065000209436", "Sofia Haddad", False),
    ("ARCL", "24120000775310", "Ana Sousa", False),
    ("ARCL", "24120000781124", "Kevin Medeiros", False),
    ("ARCL", "24120000790068", "Dr. Joan Almeida", False),
    ("AVHS", "25281000000318", "Harold Fiske", False),
    ("AVHS", "25281000000402", "Beatrice Lamont", False),
    ("FTPT", "26433000451290", "Keisha Williams", False),
    ("FTPT", "26433000455817", "Mei Lin Chen", False),
    ("FTPT", "26433000460053", "Patrick Sullivan", False),
]

# --- Accounts ---------------------------------------------------------------------------

#: (username, first name, last name, role, library ILL code or None)
ACCOUNTS = [
    ("alice", "Alice", "Moreau", User.Role.LIBRARY_STAFF, "MFPL"),
    ("bob", "Bob", "Tessier", User.Role.LIBRARY_STAFF, "HILLT"),
    ("carmen", "Carmen", "Delgado", User.Role.LIBRARY_STAFF, "QRHS"),
    ("desmond", "Desmond", "Achebe", User.Role.LIBRARY_STAFF, "ARCL"),
    ("eleanor", "Eleanor", "Hwang", User.Role.LIBRARY_STAFF, "AVHS"),
    ("farah", "Farah", "Qureshi", User.Role.LIBRARY_STAFF, "FTPT"),
    ("rita", "Rita", "Kowalski", User.Role.TEAM, None),
    ("vincent", "Vincent", "Lachance", User.Role.TEAM, None),
    ("admin", "Sam", "Okafor", User.Role.ADMIN, None),
]

# --- Lenders ----------------------------------------------------------------------------

LENDERS: list[dict[str, Any]] = [
    {
        "name": "Nashoba Valley Public Library",
        "oclc_symbol": "NVQ",
        "kind": Lender.Kind.MEMBER,
        "address": "9 Fletcher Road\nNashoba, MA 01460",
        "email": "ill@nashobavalley.example.org",
        "on_delivery": True,
    },
    {
        "name": "Shawsheen Public Library",
        "oclc_symbol": "SHQ",
        "kind": Lender.Kind.MEMBER,
        "address": "140 Main Street\nShawsheen, MA 01876",
        "email": "circ@shawsheenlibrary.example.org",
        "on_delivery": True,
        "notes": "Lends AV to member libraries; has not sent an availability report yet.",
    },
    {
        "name": "Commonwealth State University, Hale Library",
        "oclc_symbol": "CWQ",
        "kind": Lender.Kind.IN_STATE,
        "address": "Hale Library, 100 University Avenue\nNorth Amesbury, MA 01913",
        "email": "ill@hale.commonwealth-state.example.edu",
        "on_delivery": True,
    },
    {
        "name": "Pioneer Valley Community College Library",
        "oclc_symbol": "PVQ",
        "kind": Lender.Kind.IN_STATE,
        "address": "1200 College Road\nConnecticut Falls, MA 01040",
        "email": "library@pvcc.example.edu",
        "on_delivery": True,
    },
    {
        "name": "Green Mountain University Library",
        "oclc_symbol": "GMQ",
        "kind": Lender.Kind.OUT_OF_STATE,
        "country": "US",
        "address": "Interlibrary Loan, 5 College Green\nBarrett, VT 05641",
        "email": "ill@gmu.example.edu",
        "charges_fees": True,
        "usual_fee": Decimal("25.00"),
        "accepts_ifm": True,
        "notes": "Fee per loan, billed through IFM. Ships by UPS.",
    },
    {
        "name": "Narragansett Bay Public Library",
        "oclc_symbol": "NBQ",
        "kind": Lender.Kind.OUT_OF_STATE,
        "country": "US",
        "address": "30 Harbor Street\nSakonnet, RI 02837",
        "email": "ill@narragansettbay.example.org",
        "interstate_delivery_code": "NBY",
        "notes": "On the Rhode Island interstate delivery; mails to libraries outside it.",
    },
    {
        "name": "Bibliothèque de l'Université de l'Estrie",
        "oclc_symbol": "UEQ",
        "kind": Lender.Kind.CANADA,
        "country": "CA",
        "address": "Service du PEB, 2500 boulevard du Lac\nSherbrooke-Est, QC J1K 0A1",
        "email": "peb@biblio.uestrie.example.ca",
        "charges_fees": True,
        "usual_fee": Decimal("20.00"),
        "fee_currency": "CAD",
        "accepts_ifla_vouchers": True,
    },
    {
        "name": "Northumbria County Libraries, Local Studies",
        "oclc_symbol": "NCQ",
        "kind": Lender.Kind.ABROAD,
        "country": "GB",
        "address": "Local Studies Centre, Quayside\nAlnmouth NE66 1AA, United Kingdom",
        "email": "localstudies@northumbria-libraries.example.uk",
        "charges_fees": True,
        "usual_fee": Decimal("12.00"),
        "fee_currency": "GBP",
        "accepts_ifla_vouchers": True,
        "notes": "Two IFLA vouchers per loan; loans are library use only.",
    },
    {
        "name": "National Medical Sciences Library",
        "oclc_symbol": "NMQ",
        "kind": Lender.Kind.SPECIAL,
        "country": "US",
        "address": "Collection Access Section, 8600 Research Pike\nBethesda Park, MD 20894",
        "email": "docline@nmsl.example.gov",
        "charges_fees": True,
        "usual_fee": Decimal("12.00"),
        "accepts_ifm": True,
        "notes": "Requests go through DOCLINE; $12 per loan, paid by IFM.",
    },
]


def _reports(today: dt.date) -> dict[str, list[dict]]:
    """Availability reports by lender OCLC symbol, oldest first; ``days_ago`` dates them."""
    return {
        "NVQ": [
            {"days_ago": 45, "source": "OCLC Policies Directory", "note": "Lends all formats."},
        ],
        "CWQ": [
            {
                "days_ago": 130,
                "lending": False,
                "accepting_returns": True,
                "source": "E-mail from the ILL office",
                "note": "Not lending while the collection moves to the new building.",
            },
            {
                "days_ago": 18,
                "source": "MLS-ILL list announcement",
                "note": "Move finished; lending again, Delivery pickups resume Monday.",
            },
        ],
        "PVQ": [
            {
                "days_ago": 6,
                "accepting_returns": False,
                "closed_from": dt.date(today.year, 12, 22),
                "closed_until": dt.date(today.year + 1, 1, 2),
                "source": "E-mail from the circulation supervisor",
                "note": "Closed for the winter break: no lending and no returns while closed.",
            },
        ],
        "GMQ": [
            {
                "days_ago": 300,
                "source": "OCLC Policies Directory",
                "note": "Lending fee $20 per loan.",
            },
            {
                "days_ago": 25,
                "source": "Lender's website",
                "note": "Lending fee is now $25 per loan; IFM preferred.",
            },
        ],
        "NBQ": [
            {
                "days_ago": 60,
                "source": "Phone call",
                "note": "Lends books and DVDs; no audiobooks.",
            },
        ],
        "UEQ": [
            {
                "days_ago": 210,
                "source": "OCLC Policies Directory",
                "note": "Lends French-language books; $20 CAD or one IFLA voucher.",
            },
            {
                "days_ago": 9,
                "lending": False,
                "accepting_returns": False,
                "source": "E-mail from the lender",
                "note": "Not lending to US libraries while postal service is suspended. "
                "Hold returns until further notice.",
            },
        ],
        "NCQ": [
            {"days_ago": 75, "source": "IFLA voucher scheme list", "note": "Library use only."},
        ],
        "NMQ": [
            {"days_ago": 40, "source": "DOCLINE lending profile", "note": "$12 per loan via IFM."},
        ],
    }


def _patron_email(name: str) -> str:
    words = ["".join(c for c in word.lower() if c.isalpha()) for word in name.split()]
    words = [word for word in words if word and word != "dr"]
    return f"{words[0]}.{words[-1]}@mail.example.net"


# --- Requests ---------------------------------------------------------------------------


def _basic_credentials(password: str) -> str:
    import base64

    return base64.b64encode(f"US-XX-ILLDESK:{password}".encode()).decode()


def _cite(fmt: str, title: str, **fields) -> dict:
    return {"format": fmt, "title": title, **fields}


@dataclass(frozen=True)
class Fee:
    """A charge, recorded the day after the item shipped or after the last step; invoiced
    and paid so many days after that, and ``void`` (a reason) when it was typed wrong."""

    kind: str
    amount: str
    payer: str = ChargePayer.LIBRARY
    reference: str = ""
    currency: str = ""
    invoiced_after: int | None = None
    paid_after: int | None = None
    void: str = ""


@dataclass(frozen=True)
class Demo:
    """One demo request: who asks, for what, how far the workflow takes it."""

    library: str
    patron: int | None  # index among the library's patrons, in PATRONS order
    citation: dict
    status: str = Status.SUBMITTED  # where drive_to takes it
    lender: str = "NVQ"
    shipped_days_ago: int = 3
    team: str = "rita"
    # Further hand-made steps after drive_to: (action, argument) pairs, see _step().
    steps: tuple = ()
    needed_in_days: int | None = None
    max_cost: str | None = None
    notes: str = ""
    #: Why it was submitted although the library had asked for the item already.
    duplicate_reason: str = ""
    charges: tuple[Fee, ...] = ()
    messages: tuple[tuple[str, str], ...] = ()  # ("staff" | "team", body)
    messages_after: str = ""  # the step the messages follow; the last one when empty


B, AUDIO, VIDEO, MUSIC = Format.BOOK, Format.AUDIOBOOK, Format.VIDEO, Format.MUSIC
SCORE, ISSUE, FILM = Format.SCORE, Format.PERIODICAL_ISSUE, Format.MICROFILM

# The table below is laid out by hand, one request per block; ruff format would put every
# argument on its own line and make it three times as long.
# fmt: off
REQUESTS = [
    # Merrimack Falls (alice; max 25.00; on Delivery)
    Demo(
        "MFPL", 1,
        _cite(B, "Sapiens: A Brief History of Humankind", author="Yuval Noah Harari",
              publisher="Harper", year="2015", isbn="9780062316097", language="English"),
        needed_in_days=21, notes="For the Thursday book group; any edition will do.",
    ),
    Demo(
        # The same book (its ISBN-10) for another member of the group: the page warned of
        # the request above, and the library went on with a reason; the queue flags it.
        "MFPL", 0,
        _cite(B, "Sapiens", author="Harari, Yuval Noah", isbn="0-06-231609-5"),
        needed_in_days=21,
        duplicate_reason="Two book group members need it for the same Thursday; "
        "one copy will not go round.",
    ),
    Demo(
        "MFPL", 2,
        _cite(B, "The Body Keeps the Score: Brain, Mind, and Body in the Healing of Trauma",
              author="Bessel van der Kolk", publisher="Penguin Books", year="2015",
              isbn="9780143127741", language="English"),
        status=Status.SOURCING,
        # The OCLC number found while sourcing, added to the item.
        steps=(("edit_item", {"oclc_number": "857088669", "edition": "Reprint edition"}),),
    ),
    Demo(
        "MFPL", 1,
        _cite(B, "Thinking, Fast and Slow", author="Daniel Kahneman",
              publisher="Farrar, Straus and Giroux", year="2013", isbn="9780374533557"),
        status=Status.SENT_TO_LENDER, lender="CWQ",
    ),
    Demo(
        "MFPL", 2,
        _cite(AUDIO, "Educated: A Memoir", author="Tara Westover; read by Julia Whelan",
              publisher="Random House Audio", year="2018", edition="Unabridged, 12 CDs",
              oclc_number="1017567830", language="English"),
        status=Status.SHIPPED, lender="NVQ", shipped_days_ago=2,
        notes="Audio CD please, not Playaway.",
    ),
    Demo(
        "MFPL", 1,
        _cite(B, "The Covenant of Water", author="Abraham Verghese", publisher="Grove Press",
              year="2023", isbn="9780802162175"),
        status=Status.RECEIVED, lender="GMQ", shipped_days_ago=6,
        charges=(
            Fee(ChargeKind.LENDING_FEE, "25.00", reference="GMU invoice 23-1187",
                invoiced_after=1),
            Fee(ChargeKind.SHIPPING, "985.00", reference="UPS return label",
                void="Typed without the decimal point: the label was $9.85."),
            Fee(ChargeKind.SHIPPING, "9.85", reference="UPS return label"),
        ),
        messages=(
            ("team", "Green Mountain is the only lender with a copy on the shelf: $25 fee "
                     "plus return shipping, over your $25.00 maximum. Shall we go ahead?"),
            ("staff", "Yes please, the patron will cover the difference."),
        ),
        messages_after="start_sourcing",
    ),
    Demo(
        "MFPL", 0,
        _cite(B, "The Midnight Library", author="Matt Haig", publisher="Viking", year="2020",
              isbn="9780525559474", edition="Large print", edition_only=True),
        status=Status.RENEWAL_REQUESTED, lender="NVQ", shipped_days_ago=22,
        notes="Homebound patron: goes out with the outreach van, large print only.",
    ),
    Demo(
        "MFPL", 2,
        _cite(B, "Becoming", author="Michelle Obama", publisher="Crown", year="2018",
              isbn="9781524763138"),
        status=Status.COMPLETED, lender="CWQ", shipped_days_ago=35, team="vincent",
    ),
    Demo(
        # Not come after 17 days on Delivery: reported, traced, a replacement on its way.
        "MFPL", 1,
        _cite(B, "Lessons in Chemistry", author="Bonnie Garmus", publisher="Doubleday",
              year="2022", isbn="9780385547345"),
        status=Status.SHIPPED, lender="CWQ", shipped_days_ago=19,
        steps=(
            ("not_arrived", (15, "Not in our Delivery bins; we checked both branches.")),
            ("trace", "Charles W. is searching its Delivery out-bin and van log."),
            ("replacement", (1, "CWQ-REPL-5521")),
        ),
    ),
    Demo(
        # With the library; its lender stopped taking returns after it shipped, so the
        # request page asks before it goes back (docs/portal.md, "Returns on hold").
        "MFPL", 2,
        _cite(B, "Kamouraska", author="Anne Hébert", publisher="Éditions du Seuil",
              year="1970", language="French"),
        status=Status.RECEIVED, lender="UEQ", shipped_days_ago=20,
        notes="The French original, not the English translation.",
    ),
    Demo(
        "MFPL", 0,
        _cite(MUSIC, "Kind of Blue", author="Miles Davis", publisher="Columbia/Legacy",
              year="1997", oclc_number="37307931", edition="Remastered CD"),
        status=Status.CANCELLED,
    ),
    # Hilltown (bob; max 0.00; not on Delivery, so loans travel by mail)
    Demo(
        "HILLT", 0,
        _cite(B, "The Hobbit, or There and Back Again", author="J. R. R. Tolkien",
              publisher="Houghton Mifflin Harcourt", year="2012", isbn="9780547928227"),
    ),
    Demo(
        "HILLT", 1,
        _cite(ISSUE, "National Geographic", volume="Vol. 243, no. 1 (January 2023)",
              publisher="National Geographic Society", issn="0027-9358"),
        status=Status.SOURCING,
        steps=(
            ("unfilled", "No lender will send a single issue of a periodical; "
                         "for one article, use the BPL document delivery service."),
        ),
    ),
    Demo(
        # Mailed 23 days ago and still not here: reported, and the team is tracing it.
        "HILLT", 0,
        _cite(B, "The Road", author="Cormac McCarthy", publisher="Vintage International",
              year="2007", isbn="9780307387899"),
        status=Status.SENT_TO_LENDER, lender="NBQ",
        steps=(
            ("ship_mail", (23, "9400111899562837440193")),
            ("not_arrived", (22, "Nothing in three weeks of mail.")),
            ("trace", "Asked USPS to trace: the tracking stops at the Worcester hub."),
        ),
        messages=(
            ("staff", "Still nothing in our mail. Did it go to the street address? "
                      "Our PO box does not take parcels."),
        ),
        messages_after="not_arrived",
    ),
    Demo(
        "HILLT", 1,
        _cite(B, "The Handmaid's Tale", author="Margaret Atwood", publisher="Anchor Books",
              year="1998", isbn="9780385490818"),
        status=Status.SOURCING, team="vincent",
        steps=(("cancel_by_staff", "Patron found a copy at the Friends book sale."),),
    ),
    Demo(
        "HILLT", 0,
        _cite(B, "Frankenstein", author="Mary Shelley", publisher="Dover Publications",
              year="1994", isbn="9780486282114", edition="Dover Thrift Editions"),
        status=Status.SENT_TO_LENDER, lender="NBQ",
        steps=(
            ("ship_mail", (30, "9400111899562837441022")),
            ("lost", "Tracking shows it delivered to the wrong Hilltown; lender was told."),
        ),
    ),
    Demo(
        # Return postage on a $0.00 library: over its max cost.
        "HILLT", 1,
        _cite(B, "Moby-Dick, or The Whale", author="Herman Melville",
              publisher="Penguin Classics", year="2002", isbn="9780142437247"),
        status=Status.SENT_TO_LENDER, lender="NBQ", team="vincent",
        steps=(
            ("ship_mail", (50, "9400111899562837442117")),
            ("received", 4),
            ("return_mail", "9400111899223344556677"),
            ("complete", ""),
        ),
        charges=(
            Fee(ChargeKind.SHIPPING, "5.35", reference="USPS Media Mail, return",
                paid_after=0),
        ),
    ),
    # Quinapoxet Regional High School (carmen; max 10.00; on Delivery)
    Demo(
        "QRHS", 0,
        _cite(B, "The Complete Persepolis", author="Marjane Satrapi", publisher="Pantheon",
              year="2007", isbn="9780375714573"),
        needed_in_days=10, notes="For the 10th grade graphic memoir unit.",
    ),
    Demo(
        # The first lender could not supply; the second has it now.
        "QRHS", 1,
        _cite(B, "The Great Gatsby", author="F. Scott Fitzgerald", publisher="Scribner",
              year="2004", isbn="9780743273565"),
        steps=(
            ("start_sourcing", ""),
            ("send", "CWQ"),
            ("decline", "All copies checked out for course reserves."),
            ("send", "NVQ"),
        ),
    ),
    Demo(
        "QRHS", 0,
        _cite(VIDEO, "Hidden Figures", author="Theodore Melfi (director)",
              publisher="20th Century Fox Home Entertainment", year="2017",
              oclc_number="971375339", language="English",
              dvd_region=DvdRegion.REGION_1, video_encoding=VideoEncoding.NTSC),
        status=Status.SHIPPED, lender="SHQ", shipped_days_ago=1,
        notes="For a classroom screening.",
    ),
    Demo(
        "QRHS", 1,
        _cite(B, "To Kill a Mockingbird", author="Harper Lee",
              publisher="Harper Perennial Modern Classics", year="2006", isbn="9780061120084"),
        status=Status.COMPLETED, lender="PVQ", shipped_days_ago=45,
    ),
    Demo(
        # Shipped 40 days ago, due after 28: overdue.
        "QRHS", 0,
        _cite(SCORE, "Complete Piano Sonatas", author="Ludwig van Beethoven",
              publisher="Dover Publications", year="1975", volume="Volume I",
              isbn="9780486231341"),
        status=Status.RECEIVED, lender="CWQ", shipped_days_ago=40,
        notes="Volume I only (sonatas 1-15).",
    ),
    # Acushnet River College (desmond; max 50.00; on Delivery)
    Demo(
        "ARCL", 2,
        _cite(FILM, "Evening Standard (New Bedford, Mass.)", volume="Reel 112: Jan.-June 1898",
              publisher="New Bedford Standard Publishing", year="1898",
              oclc_number="9316542", language="English"),
        status=Status.SOURCING, team="vincent",
        notes="For a local history seminar; library use only is fine.",
    ),
    Demo(
        "ARCL", 2,
        _cite(ISSUE, "The New England Quarterly", volume="Vol. 94, no. 3 (September 2021)",
              publisher="MIT Press", issn="0028-4866"),
        notes="The whole issue, for the special section; not a single article.",
    ),
    Demo(
        "ARCL", 0,
        _cite(B, "Harrison's Principles of Internal Medicine", author="Joseph Loscalzo et al.",
              publisher="McGraw Hill", year="2022", edition="21st edition", edition_only=True,
              volume="Volume 1", oclc_number="1286728451"),
        status=Status.RECEIVED, lender="NMQ", shipped_days_ago=5,
        charges=(
            Fee(ChargeKind.IFM, "12.00", payer=ChargePayer.SERVICE, reference="DOCLINE IFM"),
        ),
    ),
    Demo(
        # A fee billed in Canadian dollars, recorded in USD as invoiced through IFM.
        "ARCL", 2,
        _cite(B, "Kamouraska", author="Anne Hébert", publisher="Éditions du Seuil",
              year="1970", oclc_number="3114519", language="French"),
        status=Status.COMPLETED, lender="UEQ", shipped_days_ago=60,
        charges=(
            Fee(ChargeKind.LENDING_FEE, "14.65", payer=ChargePayer.SERVICE,
                reference="UEQ facture 2291: CAD 20.00",
                invoiced_after=2, paid_after=30),
        ),
    ),
    Demo(
        "ARCL", 2,
        _cite(B, "A History of Northumberland", author="Northumberland County History Committee",
              publisher="Andrew Reid", year="1935", volume="Volume 14", oclc_number="4762917"),
        status=Status.RENEWAL_REQUESTED, lender="NCQ", shipped_days_ago=20,
        steps=(("renewal", False),),
        charges=(
            Fee(ChargeKind.IFLA_VOUCHER, "16.00", reference="2 IFLA vouchers", paid_after=0),
        ),
    ),
    Demo(
        "ARCL", 1,
        _cite(B, "Outliers: The Story of Success", author="Malcolm Gladwell",
              publisher="Little, Brown", year="2008", isbn="9780316017930",
              edition="Large print", edition_only=True),
        status=Status.UNFILLED, team="vincent",
        # The patron still wants it: the library asks again, a new request.
        steps=(("request_again", ""),),
    ),
    Demo(
        # 16 days on Delivery and nobody has said so yet: the queue flags it.
        "ARCL", 0,
        _cite(B, "Braiding Sweetgrass", author="Robin Wall Kimmerer",
              publisher="Milkweed Editions", year="2013", isbn="9781571313560"),
        status=Status.SHIPPED, lender="GMQ", shipped_days_ago=16,
    ),
    Demo(
        "ARCL", 1,
        _cite(B, "Atomic Habits", author="James Clear", publisher="Avery", year="2018",
              isbn="9780735211292"),
        status=Status.LOST, lender="NVQ", shipped_days_ago=25,
    ),
    # Assabet Valley Historical Society (eleanor; max 10.00; not on Delivery)
    Demo(
        "AVHS", 0,
        _cite(FILM, "Massachusetts Spy", volume="Reels 3-4: 1775-1776",
              publisher="Isaiah Thomas", year="1775", oclc_number="1756420"),
        status=Status.SENT_TO_LENDER, lender="CWQ",
        messages=(
            ("staff", "May the reels be used off-site? Our reader is at the town hall."),
            ("team", "The lender says library use only; the reels stay in your reading room."),
        ),
    ),
    Demo(
        "AVHS", 1,
        _cite(B, "Journal", author="Henry D. Thoreau", publisher="Princeton University Press",
              year="1990", volume="Volume 3: 1848-1851",
              edition="The Writings of Henry D. Thoreau", edition_only=True,
              oclc_number="21226043"),
    ),
    Demo(
        "AVHS", 0,
        _cite(SCORE, "The Well-Tempered Clavier, Books I and II, Complete",
              author="Johann Sebastian Bach", publisher="Dover Publications", year="1983",
              isbn="9780486245324"),
        status=Status.SOURCING,
        steps=(("cancel_by_team", "Duplicate of a request the library sent last week."),),
    ),
    Demo(
        "AVHS", 1,
        _cite(B, "A Short History of Nearly Everything", author="Bill Bryson",
              publisher="Broadway Books", year="2004", isbn="9780767908184"),
        status=Status.SENT_TO_LENDER, lender="PVQ",
        steps=(
            ("ship_mail", (25, "9400111899562837443206")),
            ("received", 3),
            ("return_mail", "9400111899223344557001"),
        ),
    ),
    Demo(
        # Marked returned by mistake, and put back by the team.
        "AVHS", 0,
        _cite(B, "The Wright Brothers", author="David McCullough",
              publisher="Simon & Schuster", year="2015", isbn="9781476728742"),
        status=Status.SENT_TO_LENDER, lender="CWQ",
        steps=(
            ("ship_mail", (20, "9400111899562837449911")),
            ("received", 4),
            ("return_mail", "9400111899223344559034"),
            ("reopen", "Marked returned by mistake: it was the Thoreau volume that went "
                       "back; this one is still with the patron."),
        ),
    ),
    # Fort Point Channel (farah; max 25.00; on Delivery)
    Demo(
        "FTPT", 0,
        _cite(B, "Between the World and Me", author="Ta-Nehisi Coates",
              publisher="Spiegel & Grau", year="2015", isbn="9780812993547"),
        needed_in_days=14,
    ),
    Demo(
        "FTPT", 1,
        _cite(B, "Project Hail Mary", author="Andy Weir", publisher="Ballantine Books",
              year="2021", isbn="9780593135204"),
        status=Status.SOURCING,
    ),
    Demo(
        "FTPT", 2,
        _cite(VIDEO, "Le fabuleux destin d'Amélie Poulain",
              author="Jean-Pierre Jeunet (director)", publisher="UGC Vidéo", year="2001",
              oclc_number="48623117", language="French",
              dvd_region=DvdRegion.REGION_2, video_encoding=VideoEncoding.PAL),
        status=Status.RECEIVED, lender="NCQ", shipped_days_ago=9,
        notes="French edition with French subtitles; our player is region-free and plays PAL.",
        charges=(Fee(ChargeKind.IFLA_VOUCHER, "16.00", reference="2 IFLA vouchers"),),
    ),
    Demo(
        # Reported not arrived, then found in the branch's own Delivery bin.
        "FTPT", 1,
        _cite(B, "Tomorrow, and Tomorrow, and Tomorrow", author="Gabrielle Zevin",
              publisher="Alfred A. Knopf", year="2022", isbn="9780593321201"),
        status=Status.SHIPPED, lender="NVQ", shipped_days_ago=18,
        steps=(
            ("not_arrived", (14, "")),
            ("trace", "North Valley says it went out on the Tuesday van."),
            ("cleared", "Found in the Seaport branch's Delivery bin, mis-sorted."),
        ),
    ),
    Demo(
        "FTPT", 2,
        _cite(B, "How to Win Friends and Influence People", author="Dale Carnegie",
              publisher="Pocket Books", year="1998", isbn="9780671027032"),
        status=Status.COMPLETED, lender="SHQ", shipped_days_ago=38, team="vincent",
    ),
    Demo(
        "FTPT", 0,
        _cite(B, "Beloved", author="Toni Morrison", publisher="Vintage International",
              year="2004", isbn="9781400033416"),
        status=Status.RENEWAL_REQUESTED, lender="CWQ", shipped_days_ago=24,
        steps=(("renewal", True),),
    ),
    Demo(
        "FTPT", 1,
        _cite(B, "Gone Girl", author="Gillian Flynn", publisher="Crown", year="2012",
              isbn="9780307588371"),
        status=Status.RETURNED, lender="NVQ", shipped_days_ago=30,
    ),
    Demo(
        "FTPT", 2,
        _cite(B, "Nineteen Eighty-Four", author="George Orwell", publisher="Plume",
              year="2003", isbn="9780452284234"),
        status=Status.SHIPPED, lender="PVQ", shipped_days_ago=3, max_cost="10.00",
        notes="Patron will pay up to $10, not more.",
        steps=(("correct_due", (42, "PVQ-88231", "The lender's slip says six weeks.")),),
    ),
    Demo(
        "FTPT", 1,
        _cite(AUDIO, "Project Hail Mary", author="Andy Weir; read by Ray Porter",
              publisher="Audible Studios on Brilliance Audio", year="2021",
              edition="Unabridged, 13 CDs", oclc_number="1236213470"),
        status=Status.RENEWAL_REQUESTED, lender="SHQ", shipped_days_ago=26,
    ),
]
# fmt: on


@contextmanager
def _quiet_loggers(*names: str):
    """Set the named loggers to ERROR while the block runs, then restore their levels."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _in_office_hours(moment: dt.datetime, earliest: dt.datetime, latest: dt.datetime):
    """``moment`` moved into the working day (9 to 17) when it falls at night, as long as
    it stays between ``earliest`` and ``latest``: people act when the desk is open."""
    local = timezone.localtime(moment)
    if 9 <= local.hour < 17:
        return moment
    day = local.date() if local.hour >= 17 else local.date() - dt.timedelta(days=1)
    for candidate in (
        timezone.make_aware(dt.datetime.combine(day, dt.time(16))),
        timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(10))),
    ):
        if earliest <= candidate <= latest:
            return candidate
    return moment


class Command(BaseCommand):
    help = (
        "Load fictional demo data: member libraries, lenders with availability reports, "
        f"patrons, accounts (password {DEMO_PASSWORD!r}) and requests in every status. "
        "Does nothing when the demo libraries already exist."
    )

    def handle(self, *args, **options):
        # The workflow queues an e-mail for almost every step: a Notification row, sent by
        # a Celery task once the transaction commits. Demo data must mail nobody: the
        # console backend would print dozens of messages and a real SMTP backend would
        # write to the fictional addresses. So the rows are marked sent in the seeding
        # transaction itself: each task queued on commit then finds nothing to send, and
        # the outbox drain never picks them up, whatever e-mail backend and broker are
        # configured (overriding EMAIL_BACKEND would only cover in-process sending, and
        # only while this command runs). With the embedded default those no-op tasks run
        # in-process at commit, so their per-task log lines are quieted too.
        with _quiet_loggers("celery.app.trace", "kombu.connection"), transaction.atomic():
            present = sorted(
                MemberLibrary.objects.filter(ill_code__in=DEMO_ILL_CODES).values_list(
                    "ill_code", flat=True
                )
            )
            if present:
                self.stdout.write(
                    f"Demo data already present (libraries {', '.join(present)} exist); "
                    "nothing changed."
                )
                return
            before = Notification.objects.aggregate(last=Max("pk"))["last"] or 0
            self._seed()
            self.silenced = Notification.objects.filter(pk__gt=before, sent_at__isnull=True).update(
                sent_at=timezone.now(), last_error="Demo data from seed_demo: not sent."
            )
        self._summary()

    # --- Building -----------------------------------------------------------------------

    def _seed(self) -> None:
        self.today = timezone.localdate()
        self.kept_accounts: list[str] = []
        # The admin comes first, so the libraries' profile history names who created them.
        admin = self._account(*next(a for a in ACCOUNTS if a[0] == "admin")[:4], None)
        for name in sorted({str(spec["region"]) for spec in LIBRARIES}):
            Region.objects.get_or_create(name=name)
        self.libraries = {spec["ill_code"]: self._library(spec, admin) for spec in LIBRARIES}
        self.users = {"admin": admin}
        for username, first, last, role, code in ACCOUNTS:
            if username not in self.users:
                library = self.libraries[code] if code else None
                self.users[username] = self._account(username, first, last, role, library)
        self.staff = {u.library.ill_code: u for u in self.users.values() if u.library is not None}
        self.patrons: dict[str, list[Patron]] = {}
        for code, card, name, homebound in PATRONS:
            self.patrons.setdefault(code, []).append(
                Patron.objects.create(
                    library=self.libraries[code],
                    card_number=card,
                    name=name,
                    email=_patron_email(name),
                    homebound=homebound,
                )
            )
        self.lenders = {}
        reports = _reports(self.today)
        for spec in LENDERS:
            lender = Lender.objects.create(**spec)
            self.lenders[lender.oclc_symbol] = lender
            for report in reports.get(lender.oclc_symbol, []):
                report = dict(report)
                days_ago = report.pop("days_ago")
                AvailabilityReport.objects.create(
                    lender=lender,
                    recorded_by=self.users["rita"],
                    reported_at=timezone.now() - dt.timedelta(days=days_ago),
                    **report,
                )
        for demo in REQUESTS:
            self._request(demo)
        self._unrequested_items()
        self._exchange_partners()
        self._exchanged_loan()
        # This morning's jobs have run, as they would have on a live desk.
        jobs.flag_not_arrived()
        jobs.flag_overdue()
        # Last night's records of the lenders, for the sourcing suggestions.
        jobs.record_lenders()
        # API tokens the people made for their scripts; their keys were shown once, then.
        for username, name, days_ago, lifetime in (
            ("rita", "Weekly statistics export", 20, 30),
            ("alice", "Catalogue's request button", 40, 90),
        ):
            issue_token(
                self.users[username],
                name=name,
                lifetime=dt.timedelta(days=lifetime),
                now=timezone.now() - dt.timedelta(days=days_ago),
            )

    def _exchange_partners(self) -> None:
        """Three lenders have since joined the exchange (the demo lender plays them): their
        older loans were typed, as before; new ones travel as ISO 18626 messages."""
        for symbol, (agency, scenario) in EXCHANGING.items():
            lender = self.lenders[symbol]
            lender.iso18626_address = f"{DEMO_PEER}/{scenario}/"
            lender.agency_id_type, lender.agency_id_value = "ISIL", agency
            lender.set_iso18626_password(DEMO_PEER_PASSWORD)
            lender.save()

    def _exchanged_loan(self) -> None:
        """A loan this morning that nobody typed: sent to Commonwealth State over ISO 18626,
        its answers (expect to supply, then loaned, with its due date, tracking and fee)
        taken in by the exchange as the demo lender would post them."""
        from requests_app import exchange
        from requests_app.iso18626.peer import Peer

        staff, team = self.staff["MFPL"], self.users["rita"]
        req = workflow.submit_request(
            actor=staff,
            library=self.libraries["MFPL"],
            patron=self.patrons["MFPL"][0],
            citation=_cite(
                "book",
                "The Hidden Life of Trees",
                author="Wohlleben, Peter",
                isbn="9781771642484",
                year="2016",
            ),  # fmt: skip
        )
        workflow.start_sourcing(req.pk, actor=team)
        lender = self.lenders["CWQ"]
        workflow.send_to_lender(req.pk, actor=team, lender=lender)
        request = ExchangeMessage.objects.get(request=req, kind="request")

        def take_in(agency: str, message: bytes) -> None:
            exchange.receive(lender, message)

        peer = Peer("", DEMO_PEER_PASSWORD, delay=0, send=take_in)
        status, answer = peer.answer(
            "loan", request.body.encode(), "Basic " + _basic_credentials(DEMO_PEER_PASSWORD)
        )
        ExchangeMessage.objects.filter(pk=request.pk).update(
            state=ExchangeMessage.State.SENT, done_at=timezone.now(), answer=answer.decode()
        )

    def _unrequested_items(self) -> None:
        """Two items that came unasked: one the team sent on, one still open."""
        for code, title, slip, sent_by, days_ago, note in (
            ("QRHS", "Dune, by Frank Herbert (Ace, 2005)", "ILL 2291873", "Green Mountain Univ.",
             6, "In our Delivery bin with a slip for Fort Point Channel."),
            ("MFPL", "The Lincoln Highway, by Amor Towles (large print)", "", "",
             1, "No slip at all; the label says only 'ILL'."),
        ):  # fmt: skip
            report = services.report_unrequested_item(
                actor=self.staff[code], title=title, slip_number=slip, sent_by=sent_by, note=note
            )
            report.created_at = timezone.now() - dt.timedelta(days=days_ago)
            report.save(update_fields=["created_at"])
        first = UnrequestedItemReport.objects.get(library=self.libraries["QRHS"])
        services.resolve_unrequested_item(
            first.pk,
            actor=self.users["rita"],
            outcome=UnrequestedItemReport.Outcome.SENT_ON,
            note="It is Fort Point Channel's: put it in Delivery to FTPT, no new slip needed.",
            send_to=self.libraries["FTPT"],
            at=first.created_at + dt.timedelta(hours=3),
        )

    def _account(self, username, first, last, role, library) -> User:
        """The demo account, or the existing one of that name when it already fits."""
        existing = User.objects.filter(username=username).first()
        if existing is not None:
            if existing.role != role or existing.library_id != (library and library.pk):
                raise CommandError(
                    f"An account named {username!r} already exists with another role or "
                    "library. Rename it, or run seed_demo on an empty database."
                )
            self.kept_accounts.append(username)
            return existing
        domain = "illdesk.example.org"
        if library is not None:
            domain = library.contact_email.split("@", 1)[1]
        user = User(
            username=username,
            first_name=first,
            last_name=last,
            email=f"{username}@{domain}",
            role=role,
            library=library,
            is_staff=role == User.Role.ADMIN,
            is_superuser=role == User.Role.ADMIN,
        )
        # set_password runs no validators: the weak, published password is deliberate.
        user.set_password(DEMO_PASSWORD)
        user.save()
        return user

    def _library(self, spec: dict, admin: User) -> MemberLibrary:
        library = MemberLibrary(**spec)
        library._history_user = admin
        library._change_reason = "Demo data"
        library.save()
        if library.ill_code == "ARCL":
            # A profile change, so the history page has something to show.
            library.max_cost = Decimal("50.00")
            library._change_reason = "Board approved a larger ILL budget for the nursing program."
            library.save()
        return library

    def _request(self, demo: Demo) -> BorrowingRequest:
        library = self.libraries[demo.library]
        staff = self.staff[demo.library]
        team = self.users[demo.team]
        patron = None if demo.patron is None else self.patrons[demo.library][demo.patron]
        path = steps_to(demo.status)
        extra = [action for action, _ in demo.steps]
        times = self._timeline(demo, ["submit", *path, *extra])
        req = workflow.submit_request(
            at=times[0],
            actor=staff,
            library=library,
            patron=patron,
            citation=demo.citation,
            needed_by=(
                None
                if demo.needed_in_days is None
                else self.today + dt.timedelta(days=demo.needed_in_days)
            ),
            max_cost=None if demo.max_cost is None else Decimal(demo.max_cost),
            notes=demo.notes,
            duplicate_reason=demo.duplicate_reason,
        )
        req = drive_to(
            req,
            demo.status,
            team=team,
            staff=staff,
            lender=self.lenders[demo.lender],
            shipped_days_ago=demo.shipped_days_ago,
            times=dict(zip(path, times[1 : 1 + len(path)], strict=True)),
        )
        for (action, argument), at in zip(demo.steps, times[1 + len(path) :], strict=True):
            req = self._step(req, action, argument, team=team, staff=staff, at=at)
        steps = ["submit", *path, *extra]
        shipped = [at for step, at in zip(steps, times, strict=True) if step.startswith("ship")]
        # After the last step (a charge notes the status it was recorded in).
        last = times[-1] + dt.timedelta(minutes=10)
        charged_at = max(shipped[0] + dt.timedelta(days=1), last) if shipped else last
        charges = [
            self._charge(req, fee, team, min(charged_at, timezone.now())) for fee in demo.charges
        ]
        for fee, charge in zip(demo.charges, charges, strict=True):
            self._settle(req, fee, charge, team)
        after = times[steps.index(demo.messages_after)] if demo.messages_after else times[-1]
        for n, (side, body) in enumerate(demo.messages, start=1):
            services.post_message(
                req.pk,
                actor=staff if side == "staff" else team,
                body=body,
                at=min(after + dt.timedelta(minutes=40 * n), timezone.now()),
            )
        return req

    def _charge(self, req: BorrowingRequest, fee: Fee, team: User, at: dt.datetime) -> Charge:
        """Record ``fee`` at ``at``."""
        return services.add_charge(
            req.pk,
            actor=team,
            kind=fee.kind,
            amount=Decimal(fee.amount),
            currency=fee.currency,
            payer=fee.payer,
            reference=fee.reference,
            at=at,
        )

    def _settle(self, req: BorrowingRequest, fee: Fee, charge: Charge, team: User) -> None:
        """The charge's void, invoice and payment on their days, once every fee of the
        request is recorded (so each total on the timeline follows the one before)."""
        at = charge.created_at
        if fee.void:
            later = min(at + dt.timedelta(hours=2), timezone.now())
            services.void_charge(req.pk, actor=team, charge_id=charge.pk, reason=fee.void, at=later)
        if fee.invoiced_after is not None:
            on, when = self._days_after(at, fee.invoiced_after)
            services.charge_invoiced(
                req.pk, actor=team, charge_id=charge.pk, invoiced_on=on, at=when
            )
        if fee.paid_after is not None:
            on, when = self._days_after(at, fee.paid_after)
            services.charge_paid(req.pk, actor=team, charge_id=charge.pk, paid_on=on, at=when)

    def _days_after(self, at: dt.datetime, days: int) -> tuple[dt.date, dt.datetime]:
        """The day ``days`` after ``at`` (today at the latest) and a moment on it, in the
        afternoon, between ``at`` and now."""
        on = min(self.today, timezone.localdate(at) + dt.timedelta(days=days))
        afternoon = timezone.make_aware(dt.datetime.combine(on, dt.time(14)))
        return on, min(max(afternoon, at), timezone.now())

    #: How long a request that never shipped has been at the desk, at most, by where it
    #: ended: new ones a few days, ended ones a few weeks. At least a day, so that each was
    #: submitted in office hours whatever the hour the demo is loaded.
    DAYS_WAITING: dict[str, int] = {
        Status.SUBMITTED: 3, Status.SOURCING: 6, Status.SENT_TO_LENDER: 9,
        Status.CANCELLED: 20, Status.UNFILLED: 30,
    }  # fmt: skip

    def _days_waiting(self, demo: Demo) -> int:
        longest = self.DAYS_WAITING.get(demo.status, 5)
        return 1 + len(demo.citation["title"]) * 7 % longest

    def _timeline(self, demo: Demo, steps: list[str]) -> list[dt.datetime]:
        """When each step happens, submission first, in order, ending by now: a shipment
        in the afternoon of its day, the two days before it for the steps that lead to
        it, the morning of its day for a receipt, and what comes after spread out up to
        now. A request that never ships happens over the last hours."""
        now = timezone.now()

        def day_at(day: dt.date, hour: int) -> dt.datetime:
            return min(now, timezone.make_aware(dt.datetime.combine(day, dt.time(hour))))

        anchors: dict[int, dt.datetime] = {}
        arguments = dict(demo.steps)
        for index, step in enumerate(steps):
            if step == "ship":
                shipped_on = self.today - dt.timedelta(days=demo.shipped_days_ago)
            elif step == "ship_mail":
                shipped_on = self.today - dt.timedelta(days=arguments["ship_mail"][0])
            else:
                continue
            anchors[index] = day_at(shipped_on, 15)
            # Submitted two mornings before, the steps up to the shipment that same day.
            anchors[0] = day_at(shipped_on - dt.timedelta(days=2), 9)
            for before in range(1, index):
                anchors[before] = anchors[0] + dt.timedelta(minutes=90 * before)
            for later, next_step in enumerate(steps[index + 1 :], start=index + 1):
                if next_step in ("mark_received", "received"):
                    days = 2 if next_step == "mark_received" else arguments["received"]
                    received_on = min(self.today, shipped_on + dt.timedelta(days=days))
                    anchors[later] = max(anchors[index], day_at(received_on, 11))
                elif next_step == "not_arrived":  # reported on its day after shipping
                    reported_on = shipped_on + dt.timedelta(days=arguments["not_arrived"][0])
                    anchors[later] = day_at(reported_on, 10)
                elif next_step == "replacement":  # recorded the day it shipped
                    replaced_on = self.today - dt.timedelta(days=arguments["replacement"][0])
                    anchors[later] = day_at(replaced_on, 15)
        if 0 not in anchors:
            # Never shipped: submitted some days ago, as a desk's open requests are, each
            # on a morning of its own (the title picks the day, so a run is repeatable).
            days = self._days_waiting(demo)
            anchors[0] = min(
                now - dt.timedelta(hours=len(steps) + 1),
                day_at(self.today - dt.timedelta(days=days), 9 + len(demo.citation["title"]) % 7),
            )
        anchors.setdefault(len(steps), now)  # the end: now (not a step)
        times: list[dt.datetime] = []
        known = sorted(anchors)
        for index in range(len(steps)):
            if index in anchors:
                times.append(anchors[index])
                continue
            before = max(k for k in known if k < index)
            after = min(k for k in known if k > index)
            share = (index - before) / (after - before)
            moment = anchors[before] + (anchors[after] - anchors[before]) * share
            times.append(_in_office_hours(moment, times[-1], anchors[after]))
        return times

    def _step(self, req, action: str, argument, *, team: User, staff: User, at: dt.datetime):
        """One workflow step beyond the plain paths of drive_to, at its moment."""
        pk = req.pk
        if action == "start_sourcing":
            return workflow.start_sourcing(pk, actor=team, at=at)
        if action == "send":
            attempt = req.attempts.count() + 1
            return workflow.send_to_lender(
                pk,
                actor=team,
                lender=self.lenders[argument],
                lender_request_number=f"ILL-{pk:06d}-{attempt}",
                at=at,
            )
        if action == "decline":
            return workflow.lender_unfilled(pk, actor=team, reason=argument, at=at)
        if action == "unfilled":
            return workflow.mark_unfilled(pk, actor=team, reason=argument, at=at)
        if action == "ship_mail":
            days_ago, tracking = argument
            shipped_on = self.today - dt.timedelta(days=days_ago)
            return workflow.ship(
                pk,
                actor=team,
                shipped_on=shipped_on,
                due_date=shipped_on + dt.timedelta(days=42),
                method=ShippingMethod.MAIL,
                tracking_number=tracking,
                at=at,
            )
        if action == "received":
            received_on = min(self.today, req.shipped_on + dt.timedelta(days=argument))
            return workflow.mark_received(pk, actor=staff, received_on=received_on, at=at)
        if action == "renewal":
            pending = req.renewals.get(answer=RenewalRequest.Answer.PENDING)
            return workflow.answer_renewal(
                pk,
                actor=team,
                approved=argument,
                due_date=pending.requested_due_date if argument else None,
                note="" if argument else "Lender needs it back for its own reader.",
                at=at,
            )
        if action == "return_mail":
            return workflow.mark_returned(
                pk, actor=staff, method=ShippingMethod.MAIL, tracking_number=argument, at=at
            )
        if action == "complete":
            return workflow.complete(pk, actor=team, at=at)
        if action == "not_arrived":
            return traces.report_not_arrived(pk, actor=staff, note=argument[1], at=at)
        if action == "trace":
            return traces.trace(pk, actor=team, note=argument, at=at)
        if action == "replacement":
            days_ago, tracking = argument
            shipped_on = self.today - dt.timedelta(days=days_ago)
            return traces.replacement_shipped(
                pk,
                actor=team,
                shipped_on=shipped_on,
                due_date=shipped_on + dt.timedelta(days=28),
                method=req.shipping_method,
                tracking_number=tracking,
                at=at,
            )
        if action == "cleared":
            return traces.cleared(pk, actor=team, note=argument, at=at)
        if action == "edit_item":
            return corrections.edit_item(pk, actor=team, citation=argument, at=at)
        if action == "correct_due":
            days, lender_number, note = argument
            return corrections.correct_shipment(
                pk,
                actor=team,
                due_date=req.shipped_on + dt.timedelta(days=days),
                lender_request_number=lender_number,
                note=note,
                at=at,
            )
        if action == "reopen":
            return corrections.reopen(pk, actor=team, reason=argument, at=at)
        if action == "request_again":
            workflow.request_again(pk, actor=staff, at=at)
            return BorrowingRequest.objects.get(pk=pk)
        if action == "lost":
            return workflow.mark_lost(pk, actor=team, note=argument, at=at)
        if action == "cancel_by_team":
            return workflow.cancel(pk, actor=team, reason=argument, at=at)
        if action == "cancel_by_staff":
            return workflow.cancel(pk, actor=staff, reason=argument, at=at)
        raise ValueError(f"Unknown demo step {action!r}")

    # --- Reporting ----------------------------------------------------------------------

    def _summary(self) -> None:
        counts = [
            ("member libraries", MemberLibrary.objects.count()),
            ("patrons", Patron.objects.count()),
            ("accounts", User.objects.count()),
            ("lenders", Lender.objects.count()),
            ("availability reports", AvailabilityReport.objects.count()),
            ("requests", BorrowingRequest.objects.count()),
            ("status events", StatusEvent.objects.count()),
            ("lender attempts", LenderAttempt.objects.count()),
            ("renewal requests", RenewalRequest.objects.count()),
            ("charges", Charge.objects.count()),
            ("messages", Message.objects.count()),
            ("notifications (marked sent: demo data mails nobody)", self.silenced),
        ]
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        for label, count in counts:
            self.stdout.write(f"  {count:>5}  {label}")
        by_status = dict(
            BorrowingRequest.objects.values_list("status").annotate(n=Count("id")).order_by()
        )
        self.stdout.write(
            "Requests by status: "
            + ", ".join(f"{status} {by_status.get(status, 0)}" for status in Status.values)
        )
        self.stdout.write(f"Accounts (password {DEMO_PASSWORD!r}):")
        for username in ("alice", "bob", "rita", "admin"):
            user = self.users[username]
            where = f", {user.library.name}" if user.library is not None else ""
            kept = ""
            if username in self.kept_accounts:
                kept = " (existing account kept, password unchanged)"
            self.stdout.write(f"  {username:<8} {user.get_role_display()}{where}{kept}")
        others = [u for u in self.users if u not in {"alice", "bob", "rita", "admin"}]
        self.stdout.write(f"  also: {', '.join(others)}")
