"""Fill PostgreSQL with a lived-in illdesk service, fast: the benchmark harness's data.

``python -m benchmarks.generate --requests 1000000 [--libraries 1800] [--lenders 5000]
[--years 5] [--seed 1] [--due-not-arrived 0.1]`` fills the (migrated) PostgreSQL database
in ``DATABASE_URL``. It refuses SQLite, and a database that already holds libraries,
people, lenders or requests unless told ``--reuse`` (keep them, generate nothing) or
``--replace`` (empty every table of the app first).

What it writes
--------------

- **Member libraries** (``--libraries``), in six regions: 70 % public, 13 % school, 12 %
  academic, 5 % special; max cost 0, 10, 25 or 50; 2 % inactive (they left the service
  a year and a half ago and have no request since). How busy a library is follows a
  power law: the busiest sends 2.4 % of all requests; at a million requests the median
  library sends about one a week.
- **People**: one to three staff accounts per library (busier libraries have more), a
  resource sharing team of six (``bench-team`` and five others) and one admin
  (``bench-admin``). Every account's password is ``illdesk-bench``.
- **Lenders** (``--lenders``): 20 % member libraries, 30 % in-state, 35 % out-of-state,
  3 % Canadian, 4 % abroad, 8 % special sources; fee-charging ones (most out-of-state,
  abroad and special lenders) have a usual fee, IFM or IFLA vouchers. 4 % are inactive
  and are never used. Each has one to four dated availability reports; the newest says
  about 4 % are closed for a while, 3 % not lending, 3 % not accepting returns. Each
  active lender has a collection, a fill propensity, a speed and a home region: the
  lending model below.
- **Borrowing requests** (``--requests``), arriving over ``--years`` years up to the
  start of today, more on weekdays and in term time, a little growth year on year, each
  for an item of a catalogue (the lending model below). Each request lives a whole story,
  told by the events the workflow would have written (actors, notes and times in order,
  team actions in office hours, library actions in opening hours), cut off at the start
  of today. Its outcome:

  ========================  ======================================================
  81 % filled               72 % of these from the first lender, 19 % the second,
                            7 % the third, 2 % the fourth (``lender_unfilled`` for
                            each lender that could not supply); of all requests,
                            0.4 % are lost in transit, 0.6 % lost by the patron and
                            0.1 % lost on the way back; the rest are completed
  12 % unfilled             a quarter with no lender tried, 60 % after one to four
                            lenders said no, 15 % while with a lender
  7 % cancelled             45 % while submitted, 35 % while sourcing, 20 % while
                            with a lender
  ========================  ======================================================

  Loans are due 28 to 56 days after shipping; 12 % ask for a renewal (80 % approved, a
  quarter of those ask again); 12 % go back late, and with the renewals asked after the
  due date 17 % of loans are flagged overdue at some point. Transit takes 2 to 8 days by
  Delivery and 3 to 15 by mail, so about 3 % of loans are flagged not arrived, by the
  job or by the library. Fee-charging lenders' fees are charges (lending fee, IFM, IFLA
  voucher or invoice), on about 9 % of loans, paid by the service or by the library
  (which pays most of it back later: a reimbursement); some mail returns carry a
  shipping charge. One loan in twenty may go to a lender above the library's max cost, so
  1.4 % of requests are over it. Stories are cut off at the
  start of today, so the last weeks hold the open statuses in the proportions their
  stories give them, and everything older has ended. One request of every status is
  pinned among the newest, so even a small fill has each status. At 100,000 requests:

  ======================  =======  =====================  =======
  completed               69.9 %   received               1.23 %
  unfilled                10.7 %   returned               0.42 %
  shipped (see below)     10.3 %   sent to lender         0.19 %
  cancelled                6.3 %   sourcing               0.08 %
  lost                     0.9 %   submitted              0.05 %
                                   renewal requested      0.02 %
  ======================  =======  =====================  =======

  and per request 7.2 status events, 1.3 lender attempts, 0.11 renewal requests, 0.09
  charges and 0.1 patrons.

- **The jobs' marks, as the hourly jobs would have left them at the start of today**:
  every not-arrived and overdue flag (with its timeline event), the last due-date
  reminder, and no patron on requests that ended more than
  ``ILLDESK_PATRON_RETENTION_DAYS`` before that (a patron whose every request is such
  does not exist; the retention job run later in the day detaches the few that ended in
  the hours since). The one exception, for the job benchmark: ``--due-not-arrived`` (a fraction of
  ``--requests``, 0.1 by default) loans were shipped more than
  ``ILLDESK_NOT_ARRIVED_DAYS`` ago, never arrived and were never flagged, as if the job
  had never seen them; their submissions spread over the whole period, so each month's
  volume stays as it is. ``requests_app.jobs.flag_not_arrived`` flags exactly that many.
- **Patrons**: registered with their library's first request for them; two in five
  requests are for a patron the library has asked for before; 3 % of requests have no
  patron.

The lending model
-----------------

How a request ends is planned first (the table above, whatever the item or library);
*which* lenders are asked, which say no and which ships follow a model, so that who filled
an item before, how well a lender fills a format, its fill rate and its speed mean
something (the sourcing suggestions and their backtest read them):

- **A catalogue of items.** Each format (book 78 %, video 7 %, audiobook 5 %, music 3 %,
  score, microfilm and periodical issue 2 % each, other 1 %) has three items per request of
  the format, ranked by popularity: item ``r`` is asked for in proportion to
  ``(r + c) ** -0.8``, where ``c`` is 1 plus the format's requests / 5,000, which flattens
  the very top. At 100,000 requests 42 % of requests ask for an item asked for before
  (nearly always by another library), three items in four are asked for once and the
  most asked-for about 150 times. An item's citation (format, title, author, publisher,
  year, ISBN, ISSN, OCLC number, language, …) is the same every time: it is made from
  a digest of the item's number (as are its holders), so nothing is kept but a cache of
  the recently asked-for. A library draws another item rather than ask for one it has an
  open request for (the app would hold it as a duplicate).
- **Lenders specialise.** An active lender's collection is of a type, public, school,
  academic or special (a member lender's is its library's; the others' as their names
  say: "University", "College", "Research Library", …), whose profile says how much of
  each format it holds: public libraries books and audiovisual (a quarter of them strong
  in it, one in seven with little of it), schools books, academic libraries scores,
  microfilm and periodical issues, special lenders microfilm and periodical issues above
  all; each lender's profile varies around its type's. The team's most-used lenders are
  the big ones, and members and in-state lenders hold more of what members ask for. Each
  lender has a fill propensity (0.3 to 0.95: how often it can lend an item it holds when
  asked), a speed (its typical days from being asked to shipping: about 1 for members,
  1.3 in-state, 2 out-of-state and special, 3 Canadian, 4 abroad, each lender around its
  kind's, 0.5 to 6) and, member and in-state lenders, a home region among the libraries'
  six. One fee-charging lender in two charges a different amount from loan to loan (its
  usual fee, 10 to 30 % either way); the others always their usual fee.
- **Each item is held by few.** One to twelve lenders (on average three and a half for a
  book, two and a half for a video or audiobook, two for music, one and a quarter to one
  and a half for the rarer formats; one to three more for the most asked-for), drawn by
  their holdings of its format; 3 % of books and 4 to 15 % of the other formats' items
  are held by no active lender.
- **Who ships.** A request to be filled asks for an item a lender within the library's
  max cost holds (another item of the format is drawn while none does; one loan in twenty
  may go above the max cost, as the team sometimes sends). Its holders within reach can
  lend it this time each as often as its propensity; of those that can, the one that ships
  is drawn by nearness: in-state first (as the team's pool), twice as likely in the
  library's region, one and a half times as likely when both are on the Delivery route
  (when none can, one of them all, by propensity and nearness).
  It ships half to one and a half times its speed after being asked; a fee it charges is
  never above the library's max cost when its usual fee is within it.
- **Who says no.** The lenders asked before it (and those of unfilled requests) are drawn
  as the team picks, from its pool (the popular, in-state first, within the max cost but
  one time in twenty), never the one that ships; three times in ten a holder instead,
  the less it fills the likelier. A holder says why it cannot this time ("In use", "Too
  new to lend", …), a lender without the item that it has none to lend ("Not owned",
  "Non-circulating", "Lost", "Policy: no AV" for audiovisual). A lender says no about
  1.2 days plus 0.8 times its speed after being asked. An item no active lender holds
  ends unfilled or cancelled, never filled.

What it does not model. Whether a request is filled does not depend on its item, its
format or its library: the outcome is drawn first, in the shares above, and the model only
says who. Popularity does not change over time (no new releases, seasons or course
reserves) and every library types an item's citation alike (no variant titles, missing
identifiers, ISBN-10s or other editions of a work). Holdings never change (no weeding, no
new copies), and a holder's chance to lend is the same for every request: no copy is out
on another loan, no lender gets busy, and lenders' closures in the availability reports
do not stop anyone being asked or shipping. The team's pool does not learn from what was
filled, nobody uses lender strings, load-leveling, reciprocal agreements or caps, and
speed and fees do not change who is asked. Renewals, losses, late returns and transit
times (but for Delivery or mail) do not depend on the lender. The figures are
plausible, not measured from any consortium's data.

How
---

Everything is generated in Python from ``--seed`` and streamed to PostgreSQL with
``COPY … FROM STDIN`` (text format), ``--batch`` requests at a time, while a second thread
copies the previous batch. The whole fill is one transaction: the big
tables are emptied, their indexes, unique and foreign-key constraints are dropped, the
rows are copied in (``FREEZE``: already frozen, so vacuuming them is cheap), and the
indexes and constraints are built again from their saved definitions, checking every row
at once (check constraints stay on throughout). Then each table's id sequence is set past
its rows, the transaction commits, and ``VACUUM ANALYZE`` leaves the tables as autovacuum
would. A failure rolls everything back, indexes included.

An item's ``item_key`` is made as ``identifiers.item_key`` makes it, but from its title,
author and volume normalised once for all the items that share them; before it writes
anything the generator holds its keys to ``item_key`` itself.

The same seed, sizes and day give the same rows; dates are laid out backwards from the
start of the day the generator runs, so a run on another day moves them with it.
"""

import argparse
import array
import bisect
import datetime as dt
import functools
import hashlib
import io
import math
import os
import random
import resource
import struct
import sys
import threading
import time
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field

from requests_app.identifiers import (
    item_key,
    normalized_author,
    normalized_title,
    normalized_volume,
)

DAY = 86_400
HOUR = 3_600
PASSWORD = "illdesk-bench"  # noqa: S105 - the benchmark accounts' published password.

#: The tables the requests phase fills: their indexes and keys are rebuilt after the load.
BULK_TABLES = (
    "members_patron",
    "requests_app_borrowingrequest",
    "requests_app_lenderattempt",
    "requests_app_renewalrequest",
    "requests_app_charge",
    "requests_app_statusevent",
)

# --- Columns, in the order the rows are written ------------------------------------------

COLUMNS = {
    "members_memberlibrary": (
        "id", "name", "ill_code", "bpl_number", "oclc_symbol", "library_type", "region",
        "on_delivery", "delivery_route_code", "address", "contact_name", "contact_email",
        "contact_phone", "max_cost", "is_active", "notes", "created_at", "updated_at",
        "dvd_region", "video_encoding",
    ),
    "members_user": (
        "id", "password", "last_login", "is_superuser", "username", "first_name",
        "last_name", "email", "is_staff", "is_active", "date_joined", "role", "library_id",
        "is_library_lead", "invited_at", "invited_by_id",
    ),
    "lenders_lender": (
        "id", "name", "oclc_symbol", "kind", "country", "address", "email", "charges_fees",
        "usual_fee", "fee_currency", "accepts_ifm", "accepts_ifla_vouchers", "on_delivery",
        "interstate_delivery_code", "is_active", "notes", "iso18626_address", "agency_id_type",
        "agency_id_value", "iso18626_password_sealed",
    ),
    "lenders_availabilityreport": (
        "reported_at", "lending", "accepting_returns", "closed_from", "closed_until",
        "source", "note", "recorded_by_id", "lender_id",
    ),
    "members_patron": (
        "id", "card_number", "name", "email", "homebound", "created_at", "library_id",
    ),
    "requests_app_borrowingrequest": (
        "id", "library_id", "patron_id", "created_by_id", "assigned_to_id", "format",
        "title", "author", "publisher", "year", "edition", "edition_only", "volume", "isbn",
        "issn", "oclc_number", "language", "dvd_region", "video_encoding", "item_key",
        "needed_by",
        "max_cost", "notes", "status", "lender_id", "lender_request_number", "shipped_on",
        "shipping_method", "shipping_tracking", "due_date", "received_on", "returned_on",
        "return_method", "return_tracking", "charges_total", "not_arrived_flagged_at",
        "overdue_flagged_at", "due_reminded_for", "due_reminded_at", "created_at",
        "updated_at", "ended_at", "trace", "follows_id", "possible_duplicate_of_id",
        "recalled_at", "exchange_failed_at", "string_exhausted_at",
    ),
    "requests_app_lenderattempt": (
        "sequence", "lender_request_number", "sent_at", "outcome", "reason", "resolved_at",
        "lender_id", "request_id", "sent_by_id",
    ),
    "requests_app_renewalrequest": (
        "requested_due_date", "requested_at", "answer", "new_due_date", "answered_at", "note",
        "answered_by_id", "request_id", "requested_by_id",
    ),
    "requests_app_charge": (
        "kind", "amount", "currency", "payer", "invoiced_on", "paid_on", "reference",
        "created_at", "created_by_id", "request_id", "voids_id", "reason",
    ),
    "requests_app_statusevent": (
        "action", "from_status", "to_status", "at", "note", "actor_id", "request_id",
        "changes",
    ),
}  # fmt: skip

# --- Words -------------------------------------------------------------------------------

TOWNS = (
    "Abington Acton Amherst Andover Ashby Athol Barre Becket Belchertown Berlin Beverly "
    "Bolton Bourne Boxford Brewster Brimfield Canton Carlisle Charlton Chatham Chester "
    "Clinton Cohasset Colrain Concord Conway Dalton Dana Dedham Dennis Douglas Dover "
    "Dudley Easton Egremont Essex Fairhaven Falmouth Foxborough Franklin Gardner Georgetown "
    "Gill Grafton Granby Groton Hadley Halifax Hamilton Hanover Hardwick Harvard Hatfield "
    "Hingham Holden Hopkinton Hudson Ipswich Kingston Lancaster Lenox Leverett Lincoln "
    "Littleton Ludlow Lunenburg Marion Mashpee Medway Mendon Middleton Milford Millis "
    "Monson Montague Nahant Natick Needham Newbury Norfolk Northfield Norton Oakham Orange "
    "Otis Oxford Palmer Paxton Pelham Pepperell Petersham Plainfield Princeton Raynham "
    "Rehoboth Rockport Rowley Royalston Rutland Salisbury Sandwich Savoy Scituate Sharon "
    "Sherborn Shirley Southwick Spencer Sterling Stow Sturbridge Sudbury Sutton Templeton "
    "Tisbury Topsfield Truro Upton Uxbridge Wales Walpole Ware Warren Wayland Wellfleet "
    "Wendell Westford Weston Whately Williamsburg Winchendon Worthington Wrentham Yarmouth"
).split()
TOWN_PREFIXES = ("", "", "", "North ", "South ", "East ", "West ", "New ", "Upper ", "Old ")
LIBRARY_KINDS = (
    ("public", 70, ("Public Library", "Free Public Library", "Memorial Library",
                    "Town Library", "Free Library")),
    ("school", 13, ("High School Library", "Regional High School Library",
                    "Middle School Library")),
    ("academic", 12, ("College Library", "Community College Library",
                      "State University Library")),
    ("special", 5, ("Historical Society Library", "Hospital Medical Library",
                    "Law Library", "Art Museum Library")),
)  # fmt: skip
REGIONS = ("Northeast", "Western", "Central", "Southeastern", "Metrowest", "Boston")
STATES = ("NY", "CT", "RI", "NH", "VT", "ME", "NJ", "PA", "OH", "IL", "CA", "TX", "WA", "MN")
FIRST_NAMES = (
    "Ada Alma Amos Ana Ben Bea Carla Cyrus Dana Dev Dora Eli Elsa Emil Eva Fay Flora Gus "
    "Hana Hugo Ida Ines Ivan Jo June Kai Kit Lena Leo Lila Lou Mae Mara Milo Nell Nico Noor "
    "Odile Omar Otto Pia Quinn Rae Remy Rita Rosa Ruth Sam Sara Tess Theo Uma Vera Walt Wren "
    "Yara Zeke Zoe"
).split()
LAST_NAMES = (
    "Abbot Alden Ames Bassett Bigelow Brewster Cabot Carver Chase Coffin Cushing Dana "
    "Doane Eaton Emerson Fairbanks Foster Gage Gould Hale Hastings Hollis Howland Hunt "
    "Ingalls Jewett Kimball Lane Lowell Mather Merrill Nash Nye Otis Parsons Peabody "
    "Pierce Quincy Rand Rice Russell Sargent Sewall Snow Stearns Thayer Tufts Upham "
    "Vinton Wadsworth Ware Whitney Winslow Wyeth Young Alvarez Chen Dubois Kowalski "
    "Nguyen Okafor Patel Rossi Silva Tanaka Haddad Novak Lindqvist Moreau Schmidt"
).split()
TITLE_ADJECTIVES = (
    "Silent Hidden Lost Burning Quiet Distant Broken Golden Forgotten Winter Summer "
    "Northern Salt Iron Glass Paper Stone Wild Long Last Bright Dark Little Great Small "
    "Open Narrow Early Late Common Secret Radical Gentle Restless Invisible Ordinary "
    "Practical Complete Modern Ancient Coastal Urban Rural Crooked Deep"
).split()
TITLE_NOUNS = (
    "River Harbor Garden Orchard Lighthouse Mill Kitchen Country Frontier Island Winter "
    "Machine Empire Republic Archive Atlas Library Map Island Season Ocean Mountain Forest "
    "Valley Road Bridge Engine Music Voices Letters Ledger Almanac Field Meadow Storm "
    "Tide Shore Marsh Prairie Factory Market City Village Sky Fire Water Memory Family "
    "Daughters Sons Strangers Neighbors Teachers Sailors Weavers Farmers Witnesses"
).split()
TITLE_PLACES = (
    "Boston", "Maine", "the Berkshires", "New England", "the Atlantic", "Cape Cod", "Quebec",
    "Vermont", "the Hudson Valley", "Nantucket", "the Merrimack", "Lowell", "Salem",
    "the Connecticut River", "Providence",
)  # fmt: skip
TITLE_SUBJECTS = (
    "Quilting",
    "Whaling",
    "Shipbuilding",
    "Textile Mills",
    "Shaker Furniture",
    "Stone Walls",
    "Cranberry Bogs",
    "Town Meetings",
    "Maple Sugaring",
    "Railroads",
    "Abolition",
    "Immigration",
    "Granite Quarries",
    "Lighthouses",
    "Herbal Medicine",
    "Beekeeping",
    "Organic Chemistry",
    "Linear Algebra",
    "Marine Biology",
    "Colonial Architecture",
    "Jazz Harmony",
    "Bird Migration",
    "Poetry",
    "Soil Science",
    "Local Elections",
)
PUBLISHERS = (
    "Beacon Press",
    "University of Massachusetts Press",
    "Harvard University Press",
    "MIT Press",
    "Little, Brown",
    "Houghton Mifflin",
    "Penguin Books",
    "Vintage",
    "W. W. Norton",
    "Knopf",
    "Yale University Press",
    "Tuttle",
    "Dover Publications",
    "Oxford University Press",
    "Cambridge University Press",
    "Candlewick Press",
    "Algonquin Books",
    "Graywolf Press",
    "Chronicle Books",
    "Storey Publishing",
)
LANGUAGES = ("Spanish", "Portuguese", "French", "Chinese", "Vietnamese", "Haitian Creole",
             "Russian", "Arabic", "Italian", "Polish")  # fmt: skip
FORMATS = (
    ("book", 78), ("audiobook", 5), ("video", 7), ("music", 3), ("score", 2),
    ("microfilm", 2), ("periodical_issue", 2), ("other", 1),
)  # fmt: skip
STREETS = ("Main St", "Elm St", "School St", "Church St", "Library Way", "Center St",
           "High St", "Maple Ave", "Pleasant St", "Union St", "Park St", "Water St")  # fmt: skip
#: Why a lender says no: one that holds the item (a lendable copy) and one that does not.
HOLDER_REASONS = (
    "In use", "Checked out, no holds for ILL", "Too new to lend", "Too fragile to lend",
    "Cannot ship to your location", "Not on shelf",
)  # fmt: skip
NOT_HELD_REASONS = ("Not owned", "Not owned", "Non-circulating", "Lost", "Volume not owned")
AV_FORMATS = frozenset({"audiobook", "video", "music"})
UNFILLED_REASONS = (
    "No lender owns this edition.", "All owning libraries declined.",
    "Only non-circulating copies.", "No free lender within the max cost.",
    "Too new: owners lend to local patrons only.", "Not held in any library we reach.",
)  # fmt: skip
CANCEL_REASONS = (
    "Patron no longer needs it.", "Found a copy locally.", "Duplicate request.",
    "Patron bought a copy.", "Needed-by date passed.", "Ordered for the collection instead.",
)  # fmt: skip
REQUEST_NOTES = (
    "Patron needs it by the end of term.", "Any edition is fine.", "Large print if possible.",
    "For a book club.", "Patron is homebound: Delivery to the branch please.",
    "Second copy for a class.",
)  # fmt: skip
AVAILABILITY_SOURCES = ("E-mail from the lender", "OCLC Policies Directory", "Phone call",
                        "Lender's website", "Statewide ILL list")  # fmt: skip
CLOSURES = ("Closed for renovation.", "Closed for inventory.", "Moving to a new building.",
            "Staff shortage: no lending this month.", "Closed for the winter break.")  # fmt: skip
IN_STATE_LENDERS = ("Public Library", "College Library", "Academy Library")
OUT_OF_STATE_LENDERS = ("University Library", "College Library", "Public Library")
SPECIAL_LENDERS = ("Research Library", "Document Supply", "Society Archive")
#: What kind of collection (``FORMAT_PROFILES``) a lender's name says it has.
LENDER_TYPES = {"Public Library": "public", "College Library": "academic",
                "Academy Library": "school", "University Library": "academic"}  # fmt: skip
ABROAD = (("GB", "GBP"), ("DE", "EUR"), ("FR", "EUR"), ("NL", "EUR"), ("IE", "EUR"),
          ("AU", "AUD"), ("JP", "JPY"))  # fmt: skip

#: The requests' statuses, in the workflow's order.
STATUSES = (
    "submitted", "sourcing", "sent_to_lender", "shipped", "received", "renewal_requested",
    "returned", "completed", "cancelled", "unfilled", "lost",
)  # fmt: skip
FINAL = frozenset({"completed", "cancelled", "unfilled", "lost"})
STATUSES_ON_THE_FILLED_PATH = frozenset(
    {"submitted", "sourcing", "sent_to_lender", "shipped", "received", "renewal_requested",
     "returned", "completed"}
)  # fmt: skip
REMINDER_DAYS = 3
WITH_LIBRARY = frozenset({"received", "renewal_requested"})

#: How requests end: the shares cancelled and unfilled; the rest are filled.
CANCELLED, UNFILLED = 0.07, 0.12
#: Of the filled: how many lenders say no before one ships (cumulative shares of 0-3).
LENDERS_BEFORE_ONE_SHIPS = (0.72, 0.91, 0.98)
#: Losses, as cumulative shares of all requests: in transit, by the patron, on the way back.
LOSSES = (("transit", 0.004), ("patron", 0.010), ("return", 0.011))

#: One request of each status is pinned this many days before today (its story ends there).
PINNED_AGES = {
    "submitted": 1, "sourcing": 2, "sent_to_lender": 4, "shipped": 7, "received": 18,
    "renewal_requested": 45, "returned": 38, "cancelled": 12, "unfilled": 25, "lost": 75,
    "completed": 80,
}  # fmt: skip

#: Seconds after the hour at which each hourly job runs (its stamp; they differ per job).
JOB_SECOND = {"flag_not_arrived": 1, "flag_overdue": 2, "remind_due_soon": 3}

COST_KINDS = frozenset({"lending_fee", "shipping", "ifm", "invoice", "ifla_voucher"})


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def flag(value: bool) -> str:
    return "t" if value else "f"


def null_or(value) -> str:
    return "\\N" if value is None else str(value)


def oclc_symbol(number: int) -> str:
    """A distinct four-letter symbol for each number below 26**4."""
    return letters(number * 7_919 % 26**4, 4)


ANY_FEE = 10**9
LENDER_KINDS = (("member", 20), ("in_state", 30), ("out_of_state", 35), ("canada", 3),
                ("abroad", 4), ("special", 8))  # fmt: skip
FEE_CHANCE = {"member": 0.0, "in_state": 0.05, "out_of_state": 0.45, "canada": 0.5,
              "abroad": 0.9, "special": 1.0}  # fmt: skip
#: How much more often the team turns to a lender of each kind: in-state first.
LENDER_KIND_PULL = {"member": 4.0, "in_state": 2.0, "out_of_state": 1.0, "canada": 0.5,
                    "abroad": 0.3, "special": 0.5}  # fmt: skip
LOAN_DAYS = {"abroad": (42, 56), "special": (28, 42)}
NEVER = 10**12

# --- The lending model: who holds what, who fills, how fast --------------------------------

#: How much of each format (in ``FORMATS``' order: book, audiobook, video, music, score,
#: microfilm, periodical issue, other) a lender of each type holds, per item of its size.
FORMAT_PROFILES = {
    "public": (1.0, 1.6, 1.8, 1.4, 0.15, 0.05, 0.3, 0.8),
    "school": (1.0, 0.8, 1.0, 0.4, 0.2, 0.02, 0.2, 0.5),
    "academic": (1.0, 0.3, 0.8, 1.0, 3.0, 3.0, 2.5, 1.0),
    "special": (0.5, 0.05, 0.2, 0.3, 2.0, 6.0, 6.0, 2.0),
}
#: Typical days from being asked to shipping, by kind of lender (each lender its own).
SPEED_DAYS = {"member": 1.0, "in_state": 1.3, "out_of_state": 2.0, "canada": 3.0,
              "abroad": 4.0, "special": 2.0}  # fmt: skip
#: How much more a lender of each kind holds of what the member libraries ask for.
KIND_HOLDINGS = {"member": 2.0, "in_state": 1.5, "out_of_state": 1.0, "canada": 0.5,
                 "abroad": 0.4, "special": 0.6}  # fmt: skip
#: Per format: the mean of how many lenders are drawn to hold an item, when someone does
#: (draws that fall on the same lender and the rounding down leave about half a holder
#: fewer), and the share of items no active lender holds.
HOLDINGS = {"book": (4.0, 0.03), "audiobook": (3.0, 0.04), "video": (3.0, 0.04),
            "music": (2.5, 0.05), "score": (2.0, 0.08), "microfilm": (1.6, 0.12),
            "periodical_issue": (2.0, 0.08), "other": (1.5, 0.15)}  # fmt: skip
MOST_HOLDERS = 12  # at most 15: the draws one digest gives, but one
RANK_MASK = (1 << 40) - 1
#: Draws (below 2**32) from a digest of an item's number: sixteen for its holders (the
#: first says how many, the others who), 26 for its citation.
SIXTEEN_DRAWS = struct.Struct("<16I").unpack
CITATION_DRAWS = struct.Struct("<26I").unpack
#: The catalogue: each format has this many items per request of the format, ranked by
#: popularity: item ``r`` is asked for in proportion to ``(r + c) ** -POPULARITY``, where
#: ``c = 1 + requests of the format / HEAD`` flattens the very top.
ITEMS_PER_REQUEST = 3
POPULARITY = 0.8
HEAD = 5_000
#: How often the item of a request that will be filled is drawn (within its format) until
#: a holder within reach lends it.
FILLED_DRAWS = 12
#: The share of the lenders that say no that the team takes from the item's holders (one
#: that rarely fills, the more likely) rather than from its usual pool.
REFUSING_HOLDERS = 0.3
#: How much nearer lenders weigh when the item's holders are asked: the library's own
#: region, and both on the Delivery route.
SAME_REGION, BOTH_ON_DELIVERY = 2.0, 1.5


def cumulative(weights) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def key_of(citation: tuple[str, ...]) -> str:
    """The request's ``item_key``, as ``BorrowingRequest.save`` makes it (the citation's
    columns in ``COLUMNS``' order: format, title, author, …, volume)."""
    fmt, title, author, volume = citation[0], citation[1], citation[2], citation[7]
    return item_key(format=fmt, title=title, author=author, volume=volume)


class ItemKeys:
    """``key_of``, quicker for the generated citations: their authors and volumes come from
    short lists and many titles recur, so each part is normalised once (as
    ``identifiers.item_key`` normalises it) and only the digest is made anew, as
    ``item_key`` makes it. ``check`` holds it to ``key_of``: a change to ``item_key``
    stops the generator instead of writing keys the app would not."""

    def __init__(self):
        self.title = functools.lru_cache(maxsize=1 << 15)(normalized_title)
        self.author = functools.lru_cache(maxsize=None)(normalized_author)
        self.volume = functools.lru_cache(maxsize=None)(normalized_volume)

    def __call__(self, citation: tuple[str, ...]) -> str:
        fmt, title, author, volume = citation[0], citation[1], citation[2], citation[7]
        parts = (fmt, self.title(title), self.author(author), self.volume(volume))
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]

    def check(self, citations) -> None:
        for citation in citations:
            if self(citation) != key_of(citation):
                raise SystemExit(
                    "benchmarks.generate is out of date: identifiers.item_key has changed "
                    f"(the generator's key of {citation[:3]} is not the app's)."
                )


def isbn13(number: int) -> str:
    """A valid ISBN-13, compact (as the app stores them), of a number below 10**9."""
    body = f"978{number:09d}"
    total = sum(int(digit) * (3 if i % 2 else 1) for i, digit in enumerate(body))
    return f"{body}{-total % 10}"


def issn(number: int) -> str:
    """A valid ISSN, NNNN-NNNC (as the app stores them), of a number below 10**7."""
    body = f"{number:07d}"
    check = (
        -sum(int(digit) * weight for digit, weight in zip(body, range(8, 1, -1), strict=True)) % 11
    )
    return f"{body[:4]}-{body[4:]}{'X' if check == 10 else check}"


def letters(number: int, width: int) -> str:
    """``number`` written in ``width`` capital letters (base 26)."""
    out = []
    for _ in range(width):
        number, digit = divmod(number, 26)
        out.append(chr(65 + digit))
    return "".join(reversed(out))


def make_citation(draws: tuple[int, ...], fmt: str, year: int) -> tuple[str, ...]:
    """An item's citation in ``COLUMNS``' order (format to video encoding), from the item's
    own ``CITATION_DRAWS`` draws (below 2**32), each part of it its own: the same whenever
    the item is asked for."""
    d, share = draws, 2**32  # a draw is below ``p * share`` with chance p
    adjective = TITLE_ADJECTIVES[d[0] % len(TITLE_ADJECTIVES)]
    noun = TITLE_NOUNS[d[1] % len(TITLE_NOUNS)]
    subject = TITLE_SUBJECTS[d[2] % len(TITLE_SUBJECTS)]
    if d[3] < 0.35 * share:
        title = f"The {adjective} {noun}"
    elif d[3] < 0.55 * share:
        title = f"{noun} and {TITLE_NOUNS[d[4] % len(TITLE_NOUNS)]}"
    elif d[3] < 0.75 * share:
        title = f"A History of {subject} in {TITLE_PLACES[d[4] % len(TITLE_PLACES)]}"
    else:
        title = f"{subject}: The {adjective} {noun}"
    if d[5] < 0.3 * share:
        title += (
            f", {TITLE_SUBJECTS[d[6] % len(TITLE_SUBJECTS)]}"
            f" and the {TITLE_NOUNS[d[7] % len(TITLE_NOUNS)]}"
        )
    author = f"{LAST_NAMES[d[8] % len(LAST_NAMES)]}, {FIRST_NAMES[d[9] % len(FIRST_NAMES)]}"
    video = fmt == "video"
    return (
        fmt, title, "" if fmt == "periodical_issue" else author,
        PUBLISHERS[d[10] % len(PUBLISHERS)] if d[11] < 0.7 * share else "",
        str(year - int(-math.log(1 - d[12] / share) * 18) % 170) if d[13] < 0.9 * share else "",
        "2nd ed." if d[14] < 0.08 * share else "", flag(d[15] < 0.05 * share),
        f"v. {1 + d[16] % 11}" if d[17] < 0.04 * share else "",
        isbn13(d[18] % 10**9)
        if fmt in ("book", "audiobook", "score") and d[19] < 0.6 * share else "",
        issn(d[18] % 10**7) if fmt == "periodical_issue" else "",
        str(1_000 + d[20] % 1_399_999_000) if d[21] < 0.5 * share else "",
        LANGUAGES[d[22] % len(LANGUAGES)] if d[23] < 0.05 * share else "",
        "1122"[d[24] % 4] if video else "",  # DVD region
        ("ntsc", "ntsc", "pal")[d[25] % 3] if video else "",
    )  # fmt: skip


# --- Time --------------------------------------------------------------------------------


class Clock:
    """Local wall-clock time as whole seconds since midnight of the first day.

    Day ``d`` is ``first_day + d``; a moment ``T`` is on day ``T // DAY``. Nobody acts
    between midnight and six in the morning except the jobs (a few seconds past each hour),
    so each day's UTC offset, taken at noon (and at midnight for the jobs' small hours),
    gives the exact instant, even on the days the clocks change.
    """

    def __init__(self, first_day: dt.date, days: int, zone: zoneinfo.ZoneInfo):
        self.days = days
        self.dates = [first_day + dt.timedelta(days=d) for d in range(days)]
        self.date_text = [day.isoformat() for day in self.dates]
        self.noon_offset = [self._offset(day, 12, zone) for day in self.dates]
        self.midnight_offset = [self._offset(day, 0, zone) for day in self.dates]
        weekdays = [day.weekday() for day in self.dates]
        #: For each day, the first day from it on that the team (Mon-Fri) works, and that
        #: libraries (Mon-Sat) are open.
        self.team_day = self._next_open(weekdays, {0, 1, 2, 3, 4})
        self.library_day = self._next_open(weekdays, {0, 1, 2, 3, 4, 5})

    @staticmethod
    def _offset(day: dt.date, hour: int, zone: zoneinfo.ZoneInfo) -> str:
        offset = dt.datetime.combine(day, dt.time(hour), tzinfo=zone).utcoffset()
        minutes = int(offset.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"

    @staticmethod
    def _next_open(weekdays: list[int], open_days: set[int]) -> list[int]:
        following = [0] * len(weekdays)
        upcoming = len(weekdays)
        for d in range(len(weekdays) - 1, -1, -1):
            if weekdays[d] in open_days:
                upcoming = d
            following[d] = upcoming
        return following

    def text(self, moment: int, micro: int | None = None) -> str:
        """``moment`` as PostgreSQL reads a timestamp with time zone."""
        d, s = divmod(moment, DAY)
        offset = self.noon_offset[d] if s >= 3 * HOUR else self.midnight_offset[d]
        if micro is None:
            return f"{self.date_text[d]} {CLOCK_FACES[s]}{offset}"
        return f"{self.date_text[d]} {CLOCK_FACES[s]}.{micro:06d}{offset}"

    def date(self, d: int) -> str:
        return self.date_text[d]


#: Every second of a day as HH:MM:SS (writing timestamps is most of the generator's work).
CLOCK_FACES = [f"{s // HOUR:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(DAY)]


class QuickRandom(random.Random):
    """``random.Random`` with a quicker ``choice`` and ``randrange`` (one ``random()`` each,
    not the exact rejection sampling: bias below 2**-40 matters little to the data)."""

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def randrange(self, start, stop=None):
        if stop is None:
            start, stop = 0, start
        return start + int(self.random() * (stop - start))


# --- The options and the summary ---------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate",
        description="Fill the PostgreSQL database in DATABASE_URL with a lived-in service.",
    )
    parser.add_argument("--requests", type=int, required=True, help="borrowing requests")
    parser.add_argument("--libraries", type=int, default=1_800, help="member libraries")
    parser.add_argument("--lenders", type=int, default=5_000, help="lenders")
    parser.add_argument("--years", type=int, default=5, help="years of requests, to today")
    parser.add_argument("--seed", type=int, default=1, help="the same seed, the same rows")
    parser.add_argument(
        "--due-not-arrived",
        type=float,
        default=0.1,
        metavar="FRACTION",
        help="loans, as a fraction of --requests, shipped long ago and never flagged: "
        "what the not-arrived job finds to flag (default 0.1)",
    )
    parser.add_argument(
        "--batch", type=int, default=25_000, help="requests generated and copied at a time"
    )
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        "--reuse", action="store_true", help="the database has rows: keep them, add nothing"
    )
    existing.add_argument(
        "--replace", action="store_true", help="the database has rows: empty it first"
    )
    options = parser.parse_args(argv)
    if options.requests < 1 or options.libraries < 1 or options.lenders < 10:
        parser.error("give at least 1 request, 1 library and 10 lenders")
    if options.years < 1:
        parser.error("--years must be at least 1")
    if not 0 <= options.due_not_arrived <= 0.5:
        parser.error("--due-not-arrived is a fraction of --requests, from 0 to 0.5")
    if options.batch < 1:
        parser.error("--batch must be at least 1")
    return options


@dataclass
class Summary:
    """What a run wrote and how long each phase took."""

    rows: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    phases: dict[str, float] = field(default_factory=dict)
    due_not_arrived: int = 0
    database_bytes: int = 0

    @property
    def seconds(self) -> float:
        return sum(self.phases.values())

    def report(self) -> str:
        lines = [f"{'table':36} {'rows':>12}"]
        lines += [f"{table:36} {count:12,}" for table, count in self.rows.items()]
        total_rows = sum(self.rows.values())
        lines.append(f"{'every table':36} {total_rows:12,}")
        requests = self.rows["requests_app_borrowingrequest"]
        if self.statuses:
            lines.append(f"\n{'status':36} {'requests':>12} {'share':>8}")
            lines += [
                f"{status:36} {self.statuses[status]:12,} {self.statuses[status] / requests:8.2%}"
                for status in STATUSES
            ]
            lines.append(
                f"\nloans shipped long ago and never flagged (due to the not-arrived job): "
                f"{self.due_not_arrived:,}"
            )
        lines.append("")
        lines += [f"{phase:36} {seconds:9.1f} s" for phase, seconds in self.phases.items()]
        seconds = max(self.seconds, 1e-9)
        lines.append(
            f"{'total':36} {self.seconds:9.1f} s   {total_rows / seconds:,.0f} rows/s, "
            f"{requests / seconds:,.0f} requests/s"
        )
        lines.append(f"database size: {self.database_bytes / 2**20:,.0f} MB")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        lines.append(f"peak memory of this process: {peak:,.0f} MB")
        lines.append(
            f"accounts: bench-team (team), bench-admin (admin), library staff; "
            f"password {PASSWORD!r}"
        )
        return "\n".join(lines)


# --- Copying -----------------------------------------------------------------------------


class Copier:
    """COPYs batches of rows in a second thread, one batch behind the generator.

    psycopg2 lets go of the GIL while it sends and waits, so PostgreSQL takes in one batch
    while Python writes the next. The two threads use the one connection (and
    transaction) in turn, never at once.
    """

    def __init__(self, raw_connection):
        self.raw = raw_connection
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _copy(self, batch: dict[str, bytes]) -> None:
        try:
            with self.raw.cursor() as cursor:
                for table, text in batch.items():
                    columns = ", ".join(COLUMNS[table])
                    cursor.copy_expert(
                        f"COPY {table} ({columns}) FROM STDIN WITH (FREEZE)",
                        io.BytesIO(text),
                        size=1 << 20,
                    )
        except BaseException as exc:  # the main thread raises it in wait()
            self.error = exc

    def send(self, batch: dict[str, list[str]]) -> None:
        """Copy ``batch`` (lines per table) once the previous batch is in."""
        texts = {}
        for table in list(batch):
            lines = batch.pop(table)
            if lines:
                lines.append("")
                texts[table] = "\n".join(lines).encode()
        self.wait()
        self.thread = threading.Thread(target=self._copy, args=(texts,), daemon=True)
        self.thread.start()

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        if self.error is not None:
            raise self.error


# --- The generator -----------------------------------------------------------------------


@dataclass
class Library:
    id: int
    name: str
    code: str
    max_cost_cents: int
    on_delivery: bool
    is_active: bool
    kind: str = "public"
    region: str = ""
    staff: list[int] = field(default_factory=list)
    #: Patrons of requests not yet past retention, whom a later request may name again.
    patrons: list[int] = field(default_factory=list)
    cards: int = 0
    #: The items of its requests so far (number -> when the request ended, ``NEVER`` if it
    #: is open), pruned of the long ended: it does not ask for an item it has open.
    items: dict[int, int] = field(default_factory=dict)
    items_pruned_at: int = 256


@dataclass(eq=False)
class Lender:
    id: int
    label: str  # as ``str(lender)`` writes it into notes
    kind: str
    fee_cents: int
    charge_kind: str  # what its fee is recorded as: lending fee, IFM, IFLA voucher, invoice
    on_delivery: bool
    loan_days: tuple[int, ...]
    #: The lending model's traits (``write_lenders``): the team's pull towards it, the
    #: share of the requests for an item it holds that it fills, its typical days from
    #: being asked to shipping, its home region (member and in-state lenders), how much its
    #: fee varies from loan to loan (0: always the same), and how much of each format it
    #: holds (``FORMATS``' order, times its size).
    pull: float = 1.0
    propensity: float = 0.7
    speed: float = 1.5
    region: str = ""
    fee_spread: float = 0.0
    holdings: tuple[float, ...] = ()


class Generator:
    """Writes the service's rows as COPY text lines, table by table."""

    def __init__(self, options: argparse.Namespace, *, today: dt.date, settings, password: str):
        self.options = options
        self.today = today
        self.rng = QuickRandom(options.seed)
        try:
            first_day = today.replace(year=today.year - options.years)
        except ValueError:  # today is 29 February
            first_day = today.replace(year=today.year - options.years, day=28)
        self.history_days = (today - first_day).days
        # Stories run on past today before they are cut there: give them room.
        self.clock = Clock(
            first_day, self.history_days + 1_000, zoneinfo.ZoneInfo(settings.TIME_ZONE)
        )
        #: The start of today: nobody acts after it; the jobs' first runs of today have.
        self.end = self.history_days * DAY
        from requests_app import rules

        self.not_arrived_days = dict(settings.ILLDESK_NOT_ARRIVED_DAYS)
        self.not_arrived_rule = rules.not_arrived_rule()
        self.retention_cutoff = self.end - settings.ILLDESK_PATRON_RETENTION_DAYS * DAY
        self.currency = settings.ILLDESK_CURRENCY
        from requests_app.models import ChargeKind, ChargePayer

        #: As ``services.add_charge`` writes them into its timeline note.
        self.charge_labels = {kind.value: kind.label for kind in ChargeKind}
        self.payer_labels = {payer.value: payer.label.lower() for payer in ChargePayer}
        self.password = password
        self.lines: dict[str, list[str]] = {table: [] for table in COLUMNS}
        self.rows: Counter = Counter()
        self.statuses: Counter = Counter()
        self.libraries: list[Library] = []
        self.lenders: list[Lender] = []
        self.team: list[int] = []
        self.team_weights = cumulative((0.25, 0.22, 0.18, 0.15, 0.12, 0.08))
        self.next_patron_id = 1
        self.due_not_arrived = 0
        # The catalogue, per format (``FORMATS``' order): the chance of each, and how an
        # item's rank is drawn (``POPULARITY``, ``HEAD``).
        self.format_weights = cumulative(share for _, share in FORMATS)
        self.catalogue = []
        for _, share in FORMATS:
            expected = options.requests * share / self.format_weights[-1]
            items = max(20, round(ITEMS_PER_REQUEST * expected))
            head = 1 + expected / HEAD
            low = head ** (1 - POPULARITY)
            self.catalogue.append(
                (low, (items + head) ** (1 - POPULARITY) - low, 1 / (1 - POPULARITY), head, items)
            )
        # An item is made from its number alone, its citation and its holders each from
        # their own digest of it (salted with the seed); the ones asked for lately stay made.
        self.citation_salt = f"{options.seed}/citations/".encode()
        self.holders_stream = hashlib.blake2b(f"{options.seed}/holders/".encode())
        #: Per format, how many lenders hold an item, by a draw's top twelve bits: none
        #: (``HOLDINGS``' share), else one more than an exponential with its mean less one.
        self.holder_counts = []
        for fmt, _ in FORMATS:
            mean, held_by_none = HOLDINGS[fmt]
            none = round(held_by_none * 2**12)
            self.holder_counts.append(
                [0] * none
                + [
                    1 + int(-math.log(1 - (i + 0.5) / (2**12 - none)) * (mean - 1))
                    for i in range(2**12 - none)
                ]
            )
        self.citation_of = functools.lru_cache(maxsize=1 << 15)(self.make_citation)
        self.holders_of = functools.lru_cache(maxsize=1 << 15)(self.make_holders)
        self.key_of = ItemKeys()
        samples = [
            make_citation(
                CITATION_DRAWS(hashlib.shake_256(b"%d" % n).digest(4 * 26)), fmt, today.year
            )
            for n in range(16)
            for fmt, _ in FORMATS
        ]
        self.key_of.check([*samples, samples[0][:7] + ("Vol. 2",) + samples[0][8:]])

    # -- helpers ---------------------------------------------------------------------

    def emit(self, table: str, *values: str) -> None:
        self.lines[table].append("\t".join(values))

    def take_lines(self) -> dict[str, list[str]]:
        taken, self.lines = self.lines, {table: [] for table in COLUMNS}
        for table, lines in taken.items():
            self.rows[table] += len(lines)
        return taken

    def job_run(self, job: str, moment: int) -> int:
        """The first run of ``job`` at or after ``moment``: they run a few seconds past
        each hour."""
        run = moment - moment % HOUR + JOB_SECOND[job]
        return run if run >= moment else run + HOUR

    def job_text(self, job: str, run: int) -> str:
        """A run's timestamp, to the microsecond: every row it marked carries the same."""
        micro = (run // HOUR * 7_919 + JOB_SECOND[job] * 104_729) % 1_000_000
        return self.clock.text(run, micro)

    def last_run(self, job: str) -> int:
        """The job's first run of today: the last one the data has seen."""
        return self.end + JOB_SECOND[job]

    def team_time(self, moment: float) -> int:
        """The first moment from ``moment`` on that the team is at work (Mon-Fri 8:30-17)."""
        return self._at_work(int(moment), 8 * HOUR + 1_800, 17 * HOUR, self.clock.team_day)

    def library_time(self, moment: float) -> int:
        """The first moment from ``moment`` on that libraries are open (Mon-Sat 9-20)."""
        return self._at_work(int(moment), 9 * HOUR, 20 * HOUR, self.clock.library_day)

    def _at_work(self, moment: int, opens: int, closes: int, open_day: list[int]) -> int:
        d, s = divmod(moment, DAY)
        if d >= self.clock.days - 8:
            return moment  # far past the cut: it will not be written
        if s >= closes:
            d, s = d + 1, 0
        first = open_day[d]
        if first != d or s < opens:
            # What waited overnight is done through the morning, most of it early.
            return first * DAY + opens + int(self.rng.random() ** 2 * (closes - opens))
        return d * DAY + s

    def pick_team(self) -> int:
        weights = self.team_weights
        return self.team[bisect.bisect(weights, self.rng.random() * weights[-1])]

    def pick_lender(self, ceiling: int, avoid: list[int]) -> Lender:
        """A lender (the popular ones more often) whose fee is within ``ceiling``, not yet
        tried for this request."""
        pool, weights = self.lender_pools[ceiling]
        if not pool:
            pool, weights = self.lender_pools[ANY_FEE]
        for _ in range(20):
            lender = self.lenders[pool[bisect.bisect(weights, self.rng.random() * weights[-1])]]
            if lender.id not in avoid:
                break
        return lender

    # -- the catalogue and its holders --------------------------------------------------

    def make_citation(self, number: int) -> tuple[tuple[str, ...], str]:
        """Catalogue item ``number``'s citation and ``item_key`` (its format is in the bits
        above 40, its popularity rank below): the same whenever it is asked for."""
        digest = hashlib.shake_256(self.citation_salt + number.to_bytes(8, "little"))
        draws = CITATION_DRAWS(digest.digest(4 * 26))
        citation = make_citation(draws, FORMATS[number >> 40][0], self.today.year)
        return citation, self.key_of(citation)

    def make_holders(self, number: int) -> tuple[Lender, ...]:
        """The active lenders that hold a lendable copy of item ``number``: few (more of
        the most asked for, fewer of the rare formats), chosen by their holdings of its
        format, or none. From a digest of its number: quick to make again."""
        f, rank = number >> 40, number & RANK_MASK
        stream = self.holders_stream.copy()
        stream.update(number.to_bytes(8, "little"))
        draws = SIXTEEN_DRAWS(stream.digest())
        wanted = self.holder_counts[f][draws[0] >> 20]
        if not wanted:
            return ()
        head = self.catalogue[f][3]
        if rank < 10 * head:
            wanted += 3 if rank < head else 1
        (weights, starts), lenders = self.holding_weights[f], self.lenders
        chosen: list[Lender] = []
        for pick in draws[1 : 1 + min(wanted, MOST_HOLDERS)]:
            low, high = starts[pick >> 20], starts[(pick >> 20) + 1]
            lender = lenders[low if low == high else bisect.bisect(weights, pick, low, high + 1)]
            if lender not in chosen:
                chosen.append(lender)
        return tuple(chosen)

    def draw_item(self, library: Library, created: int, f: int) -> int:
        """An item of format ``f``, the popular more often, that ``library`` has no open
        request for."""
        low, span, power, head, items = self.catalogue[f]
        rng, asked = self.rng, library.items
        for _ in range(8):
            rank = min(int((low + rng.random() * span) ** power - head), items - 1)
            number = f << 40 | rank
            if asked.get(number, -1) < created:
                break
        return number

    def pick_holder(self, holders: tuple[Lender, ...], library: Library, ceiling: int):
        """The holder that ships to ``library``, among those whose fee is within
        ``ceiling`` (None if none is): each can lend it this time as often as it fills
        (its propensity), and of those that can, the nearer are likelier (in-state first,
        the library's region, both on Delivery). If none can, one of them all, by
        propensity and nearness."""
        rng = self.rng
        total = total_all = 0.0
        upto, upto_all = [], []
        for lender in holders:
            if lender.fee_cents <= ceiling:
                weight = lender.pull
                if lender.region == library.region:
                    weight *= SAME_REGION
                if lender.on_delivery and library.on_delivery:
                    weight *= BOTH_ON_DELIVERY
                total_all += weight * lender.propensity
                if rng.random() < lender.propensity:
                    total += weight
            upto.append(total)
            upto_all.append(total_all)
        if total:
            return holders[bisect.bisect(upto, rng.random() * total)]
        if total_all:
            return holders[bisect.bisect(upto_all, rng.random() * total_all)]
        return None

    def pick_refusing_holder(self, holders: tuple[Lender, ...], ceiling: int, avoid: list[int]):
        """A holder asked and saying no: the less it fills, the likelier; None if none is
        within ``ceiling`` and not tried yet."""
        total, upto = 0.0, []
        for lender in holders:
            if lender.fee_cents <= ceiling and lender.id not in avoid:
                total += 1 - lender.propensity
            upto.append(total)
        if not total:
            return None
        return holders[bisect.bisect(upto, self.rng.random() * total)]

    def fee_for(self, lender: Lender, library: Library) -> int:
        """What ``lender`` charges for this loan: its usual fee, or around it (within the
        library's max cost when its usual fee is)."""
        fee = lender.fee_cents
        if lender.fee_spread:
            varied = fee * (1 + lender.fee_spread * (2 * self.rng.random() - 1))
            varied = max(100, int(varied / 50 + 0.5) * 50)
            if fee <= library.max_cost_cents:
                varied = min(varied, library.max_cost_cents)
            fee = varied
        return fee

    # -- libraries, people, lenders ----------------------------------------------------

    def write_libraries(self) -> None:
        rng = self.rng
        founded = self.clock.text(10 * HOUR)
        kinds = [kind for kind, _, _ in LIBRARY_KINDS]
        kind_weights = cumulative(share for _, share, _ in LIBRARY_KINDS)
        suffixes = {kind: names for kind, _, names in LIBRARY_KINDS}
        for n in range(self.options.libraries):
            kind = kinds[bisect.bisect(kind_weights, rng.random() * kind_weights[-1])]
            town = rng.choice(TOWN_PREFIXES) + rng.choice(TOWNS)
            library = Library(
                id=n + 1,
                name=f"{town} {rng.choice(suffixes[kind])}",
                code=f"LIB{n}",
                max_cost_cents=rng.choice((0, 0, 1_000, 2_500, 2_500, 5_000)),
                on_delivery=rng.random() < 0.85,
                is_active=n == 0 or rng.random() >= 0.02,
                kind=kind,
            )
            self.libraries.append(library)
            symbol = oclc_symbol(n) if rng.random() < 0.6 else ""
            library.region = rng.choice(REGIONS)
            self.emit(
                "members_memberlibrary",
                str(library.id), library.name, library.code,
                f"2999{n:06d}", symbol, kind, library.region, flag(library.on_delivery),
                f"R{rng.randrange(1, 41):02d}" if library.on_delivery else "",
                f"{rng.randrange(1, 400)} {rng.choice(STREETS)}, {town}, MA "
                f"0{rng.randrange(1_000, 2_800)}",
                f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                f"ill@lib{n}.example.org", f"617-555-01{rng.randrange(100):02d}",
                money(library.max_cost_cents), flag(library.is_active),
                "" if rng.random() < 0.9 else "Closed Saturdays in summer.", founded, founded,
                "1", "ntsc",  # players of Region 1 and NTSC, as in the US
            )  # fmt: skip
        # How busy each library is: a power law over a shuffled order. Libraries that left
        # the service sent nothing in their last year and a half.
        order = list(range(len(self.libraries)))
        rng.shuffle(order)
        weights = [0.0] * len(order)
        for rank, index in enumerate(order):
            weights[index] = 1 / (rank + 5) ** 0.9
        self.library_weights = weights
        self.weights_all = cumulative(weights)
        self.weights_recent = cumulative(
            weight if library.is_active else 0.0
            for weight, library in zip(weights, self.libraries, strict=True)
        )

    def write_people(self) -> None:
        rng = self.rng
        joined = self.clock.text(10 * HOUR)
        ids = iter(range(1, 10**9))

        def account(username, first, last, role, library_id=None, *, active=True) -> int:
            user_id = next(ids)
            admin = role == "admin"
            self.emit(
                "members_user",
                str(user_id), self.password, "\\N", flag(admin), username, first, last,
                f"{username}@example.org", flag(admin), flag(active), joined, role,
                null_or(library_id), flag(False), "\\N", "\\N",
            )  # fmt: skip
            return user_id

        colleagues = [("bench-team", "Bench", "Team")] + [
            (f"team-{first.lower()}", first, rng.choice(LAST_NAMES))
            for first in rng.sample(FIRST_NAMES, 5)
        ]
        self.team = [account(username, first, last, "team") for username, first, last in colleagues]
        account("bench-admin", "Bench", "Admin", "admin")
        mean = sum(self.library_weights) / len(self.library_weights)
        for library, weight in zip(self.libraries, self.library_weights, strict=True):
            size = 3 if weight > 2.5 * mean else 2 if weight > mean else 1
            for first in rng.sample(FIRST_NAMES, size):
                library.staff.append(
                    account(
                        f"{first.lower()}.{library.code.lower()}", first,
                        rng.choice(LAST_NAMES), "library_staff", library.id,
                        active=library.is_active,
                    )
                )  # fmt: skip

    def write_lenders(self) -> None:
        rng = self.rng
        kinds = [kind for kind, _ in LENDER_KINDS]
        kind_weights = cumulative(share for _, share in LENDER_KINDS)
        members_lending: set[int] = set()
        # The lending model's traits come from their own stream: the lenders' rows are
        # what they would be without them.
        traits = QuickRandom(f"{self.options.seed}/lenders")
        profiles = []
        for n in range(self.options.lenders):
            lender_id = n + 1
            kind = kinds[bisect.bisect(kind_weights, rng.random() * kind_weights[-1])]
            town = rng.choice(TOWN_PREFIXES) + rng.choice(TOWNS)
            symbol = oclc_symbol(self.options.libraries + n)
            country, currency, state = "US", "USD", "MA"
            if kind == "member":
                member = rng.randrange(len(self.libraries))
                if member in members_lending:
                    kind = "in_state"
                else:
                    members_lending.add(member)
                    symbol = oclc_symbol(member)
            region = ""
            if kind == "member":
                name = self.libraries[member].name
                library_type = self.libraries[member].kind
                region = self.libraries[member].region
            elif kind == "in_state":
                suffix = rng.choice(IN_STATE_LENDERS)
                name = f"{town} {suffix}"
                library_type = LENDER_TYPES[suffix]
            elif kind == "out_of_state":
                state = rng.choice(STATES)
                suffix = rng.choice(OUT_OF_STATE_LENDERS)
                name = f"{town} {suffix}, {state}"
                library_type = LENDER_TYPES[suffix]
            elif kind == "canada":
                country, currency, state = "CA", "CAD", "ON"
                name = f"{town} Public Library, Ontario"
                library_type = "public"
            elif kind == "abroad":
                country, currency = rng.choice(ABROAD)
                state = country
                name = f"{town} University Library ({country})"
                library_type = "academic"
            else:
                name = f"{rng.choice(LAST_NAMES)} {rng.choice(SPECIAL_LENDERS)}"
                library_type = "special"
                if rng.random() < 0.5:
                    symbol = ""
            charges = FEE_CHANCE[kind] > rng.random()
            fee = rng.choice((500, 1_000, 1_500, 2_000, 2_500, 3_500)) if charges else 0
            accepts_ifm = charges and kind in ("out_of_state", "canada") and rng.random() < 0.7
            accepts_ifla = kind == "abroad" and rng.random() < 0.8
            if not charges:
                charge_kind = ""
            elif accepts_ifm:
                charge_kind = "ifm"
            elif accepts_ifla:
                charge_kind = "ifla_voucher"
            elif kind == "special":
                charge_kind = "invoice"
            else:
                charge_kind = "lending_fee"
            on_delivery = kind in ("member", "in_state") and rng.random() < 0.8
            interstate_code = ""
            if kind == "out_of_state" and rng.random() < 0.3:
                interstate_code = letters(rng.randrange(26**3), 3)
            is_active = rng.random() >= 0.04
            if is_active:
                lender = Lender(
                    lender_id, f"{name} ({symbol})" if symbol else name, kind, fee,
                    charge_kind, on_delivery, LOAN_DAYS.get(kind, (28, 28, 28, 35, 42)),
                )  # fmt: skip
                profiles.append(self.lender_traits(lender, library_type, region, traits))
                self.lenders.append(lender)
            self.emit(
                "lenders_lender",
                str(lender_id), name, symbol, kind, country,
                f"{rng.randrange(1, 900)} {rng.choice(STREETS)}, {town}, {state}",
                f"ill@lender{n}.example.org", flag(charges), money(fee),
                currency if charges else "USD", flag(accepts_ifm), flag(accepts_ifla),
                flag(on_delivery),
                interstate_code, flag(is_active),
                "" if rng.random() < 0.9 else "Ask for the ILL coordinator by name.",
                "", "", "", "",  # no ISO 18626 partners among them
            )  # fmt: skip
            self.write_availability(lender_id)
        # Popularity follows a power law; one pool per most that a library pays for a loan.
        order = list(range(len(self.lenders)))
        rng.shuffle(order)
        popularity = [0.0] * len(order)
        for rank, index in enumerate(order):
            popularity[index] = LENDER_KIND_PULL[self.lenders[index].kind] / (rank + 3)
            # The popular are the big: they hold more of everything their profile holds
            # (and what member libraries ask for is on the state's shelves more often).
            size = (rank + 3) ** -0.8 * KIND_HOLDINGS[self.lenders[index].kind]
            self.lenders[index].holdings = tuple(weight * size for weight in profiles[index])
        #: Per format, the lenders' holdings, cumulative and scaled to 2**32 (a digest's
        #: draw), and the lender where each 2**20th of that range starts: whom an item's
        #: holders are (``make_holders``).
        self.holding_weights = []
        for f in range(len(FORMATS)):
            weights = cumulative(lender.holdings[f] for lender in self.lenders)
            scale = 2**32 / weights[-1]
            weights = [weight * scale for weight in weights]
            weights[-1] = 2.0**32  # above every draw, whatever the rounding
            starts, index = array.array("I"), 0
            for slot in range(2**12 + 1):
                while index < len(weights) - 1 and weights[index] <= slot << 20:
                    index += 1
                starts.append(index)
            self.holding_weights.append((weights, starts))
        self.lender_pools = {}
        for ceiling in {library.max_cost_cents for library in self.libraries} | {ANY_FEE}:
            pool = [i for i, lender in enumerate(self.lenders) if lender.fee_cents <= ceiling]
            self.lender_pools[ceiling] = (pool, cumulative(popularity[i] for i in pool))

    @staticmethod
    def lender_traits(
        lender: Lender, library_type: str, region: str, traits: random.Random
    ) -> list[float]:
        """Give ``lender`` its pull, fill propensity, speed, region and fee spread; return
        its format profile (how much of each format it holds, before its size)."""
        lender.pull = LENDER_KIND_PULL[lender.kind]
        lender.propensity = 0.3 + 0.65 * traits.random() ** 0.7
        speed = SPEED_DAYS[lender.kind] * math.exp(traits.gauss(0, 0.4))
        lender.speed = min(max(speed, 0.5), 6.0)
        lender.region = region or (traits.choice(REGIONS) if lender.kind == "in_state" else "")
        if lender.fee_cents and traits.random() < 0.5:
            lender.fee_spread = traits.choice((0.1, 0.2, 0.3))
        profile = [
            weight * math.exp(traits.gauss(0, 0.5)) for weight in FORMAT_PROFILES[library_type]
        ]
        if library_type == "public":
            # Some public libraries are strong in audiovisual, some lend little of it.
            roll = traits.random()
            av = 3.0 if roll < 0.25 else 0.1 if roll < 0.4 else 1.0
            for f, (fmt, _) in enumerate(FORMATS):
                if fmt in AV_FORMATS:
                    profile[f] *= av
        return profile

    def write_availability(self, lender_id: int) -> None:
        """One to four dated reports; the newest counts."""
        rng = self.rng
        days = sorted(
            rng.randrange(self.history_days) for _ in range(min(4, 1 + int(rng.expovariate(1.2))))
        )
        for i, day in enumerate(days):
            roll = rng.random() if i == len(days) - 1 else 1.0
            lending, accepting = not 0.04 <= roll < 0.07, not 0.07 <= roll < 0.10
            closed_from = closed_until = "\\N"
            note = ""
            if roll < 0.04:
                start = self.history_days - rng.randrange(20)
                closed_from = self.clock.date(start)
                if rng.random() < 0.8:
                    closed_until = self.clock.date(start + rng.randrange(7, 60))
                note, lending = rng.choice(CLOSURES), False
                day = min(day, start - 1)
            self.emit(
                "lenders_availabilityreport",
                self.clock.text(max(day, 0) * DAY + 10 * HOUR + rng.randrange(7 * HOUR)),
                flag(lending), flag(accepting), closed_from, closed_until,
                rng.choice(AVAILABILITY_SOURCES), note,
                str(rng.choice(self.team)) if rng.random() < 0.6 else "\\N", str(lender_id),
            )  # fmt: skip

    # -- requests ----------------------------------------------------------------------

    def arrivals_per_day(self) -> list[int]:
        """How many requests arrive on each day before today, summing to ``--requests``."""
        weekday_factor = (1.15, 1.1, 1.05, 1.0, 0.9, 0.35, 0.1)
        month_factor = {7: 0.9, 8: 0.85, 12: 0.8}
        holidays = {(1, 1), (7, 4), (12, 25)}
        weights = []
        for d in range(self.history_days):
            day = self.clock.dates[d]
            weight = weekday_factor[day.weekday()] * month_factor.get(day.month, 1.0)
            if (day.month, day.day) in holidays:
                weight *= 0.05
            weights.append(weight * (1 + 0.15 * d / self.history_days))
        running = cumulative(weights)
        counts, before = [], 0
        for upto in running:
            so_far = round(self.options.requests * upto / running[-1])
            counts.append(so_far - before)
            before = so_far
        return counts

    def plan(self, counts: list[int]) -> tuple[dict[int, str], "NeverFlagged"]:
        """Which requests are pinned to a status (number -> status), and which loans ship
        and are never flagged (exactly ``--due-not-arrived`` of ``--requests``)."""
        first_of_day, total = [], 0
        for count in counts:
            first_of_day.append(total)
            total += count
        pinned: dict[int, str] = {}
        for status, age in PINNED_AGES.items():
            number = first_of_day[max(self.history_days - age, 0)]
            while number in pinned:
                number += 1
            if number >= total:
                number = next((n for n in range(total - 1, -1, -1) if n not in pinned), None)
            if number is not None:
                pinned[number] = status
        wanted = round(self.options.requests * self.options.due_not_arrived)
        # Submitted early enough to have shipped well before the not-arrived line.
        longest = max(self.not_arrived_days.values())
        last_day = self.history_days - (longest + 16)
        old_enough = first_of_day[last_day] if last_day > 0 else 0
        candidates = old_enough - sum(1 for number in pinned if number < old_enough)
        if wanted > candidates:
            raise SystemExit(
                f"--due-not-arrived asks for {wanted:,} loans shipped more than "
                f"{longest} days ago; only {candidates:,} requests are old enough."
            )
        return pinned, NeverFlagged(
            f"{self.options.seed}/never flagged", wanted, candidates, before=old_enough
        )

    def write_requests(self, copier: Copier, progress) -> None:
        counts = self.arrivals_per_day()
        pinned, never_flagged = self.plan(counts)
        old_enough = never_flagged.before
        rng, batch = self.rng, self.options.batch
        number = 0
        recent = self.history_days - 550
        for d, count in enumerate(counts):
            weights = self.weights_recent if d > recent else self.weights_all
            # Libraries submit in opening hours, most in the late morning.
            times = sorted(
                d * DAY + int(rng.triangular(8.5 * HOUR, 20 * HOUR, 11 * HOUR))
                for _ in range(count)
            )
            for created in times:
                library = self.libraries[bisect.bisect(weights, rng.random() * weights[-1])]
                status = pinned.get(number)
                story = RequestStory(
                    self, number + 1, created, library, pinned=status,
                    never_flagged=status is None and number < old_enough and never_flagged(),
                )  # fmt: skip
                story.tell()
                number += 1
                if number % batch == 0:
                    copier.send(self.take_lines())
                    progress(number)
        copier.send(self.take_lines())

    def patron_for(self, library: Library, created: int) -> int:
        """A patron of ``library``: one it has asked for before (two in five), or a new
        one, registered with this request."""
        rng = self.rng
        if library.patrons and rng.random() < 0.4:
            return library.patrons[rng.randrange(len(library.patrons))]
        patron_id = self.next_patron_id
        self.next_patron_id += 1
        library.cards += 1
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        self.emit(
            "members_patron",
            str(patron_id), f"2{library.id:05d}{library.cards:08d}", f"{first} {last}",
            f"{first.lower()}.{last.lower()}{patron_id}@example.org" if rng.random() < 0.6 else "",
            flag(rng.random() < 0.02), self.clock.text(created), str(library.id),
        )  # fmt: skip
        library.patrons.append(patron_id)
        return patron_id


class NeverFlagged:
    """Chooses exactly ``wanted`` of ``candidates`` offered one by one, evenly (selection
    sampling: each with the chance that still leaves exactly ``wanted`` chosen)."""

    def __init__(self, seed: str, wanted: int, candidates: int, *, before: int):
        self.rng = random.Random(seed)
        self.wanted, self.candidates = wanted, candidates
        #: The candidates are the requests numbered below this that are not pinned.
        self.before = before

    def __call__(self) -> bool:
        chosen = self.rng.random() * self.candidates < self.wanted
        self.candidates -= 1
        self.wanted -= chosen
        return chosen


class RequestStory:
    """One request's life: its events in order, cut off at the start of today.

    ``pinned`` names the status the story ends in: the move out of it never happens, and
    moves that would fall after the cut before it gets there are pulled in before the cut.
    ``never_flagged`` is a loan that ships and never arrives, which the not-arrived job
    has not seen yet.
    """

    __slots__ = (
        "gen", "rng", "id", "created", "library", "pinned", "never_flagged", "status", "last",
        "alive", "updated", "ended", "assigned", "lender", "lender_number", "attempt",
        "tried", "shipped_day", "method", "tracking", "due_day", "received_day",
        "returned_day", "return_tracking", "charges_cents", "owed_cents", "not_arrived",
        "overdue", "reminded_for", "reminded_at", "renewal", "with_library_since", "trace",
        "item", "holders", "shipper",
    )  # fmt: skip

    def __init__(self, gen: Generator, request_id: int, created: int, library: Library, *,
                 pinned: str | None, never_flagged: bool):  # fmt: skip
        self.gen, self.rng = gen, gen.rng
        self.id, self.created, self.library = request_id, created, library
        self.pinned, self.never_flagged = pinned, never_flagged
        self.status, self.last, self.alive = "submitted", created, True
        self.updated, self.ended, self.assigned = created, None, None
        self.lender, self.lender_number, self.attempt, self.tried = None, "", None, []
        self.shipped_day = self.due_day = self.received_day = self.returned_day = None
        self.method = self.tracking = self.return_tracking = ""
        self.charges_cents = self.owed_cents = 0
        # The jobs' marks, as the timestamps they wrote.
        self.not_arrived = self.overdue = self.reminded_at = None
        self.reminded_for = self.renewal = self.with_library_since = None
        #: Where a not-arrived trace stands (``BorrowingRequest.trace``).
        self.trace = ""
        #: The catalogue item asked for (its number), its holders, and the holder that
        #: ships it (or would have).
        self.item = 0
        self.holders: tuple[Lender, ...] = ()
        self.shipper: Lender | None = None

    # -- events ------------------------------------------------------------------------

    def when(self, moment: int) -> int:
        """When a move happens: a pinned story pulls moves from past the cut to before it."""
        if self.pinned is not None and moment > self.gen.end and self.status != self.pinned:
            return self.last + max(1, (self.gen.end - self.last) // 2)
        return moment

    def _event(self, at: str, action: str, actor, to_status: str, note: str) -> None:
        self.gen.emit(
            "requests_app_statusevent",
            action, self.status, to_status, at, note, null_or(actor), str(self.id), "\\N",
        )  # fmt: skip

    def move(self, moment: int, action: str, actor: int, to_status: str, note: str = "") -> bool:
        """A person's move to ``to_status`` (the same status: an action recorded on the
        request). False, and the story stops, when it falls after the cut."""
        if not self.alive:
            return False
        if self.status == self.pinned and to_status != self.status:
            self.alive = False
            return False
        moment = max(moment, self.last + 1)
        if moment > self.gen.end:
            self.alive = False
            return False
        self._event(self.gen.clock.text(moment), action, actor, to_status, note)
        self.status, self.last, self.updated = to_status, moment, moment
        if to_status in FINAL:
            self.ended = moment
        return True

    def job(self, job: str, run: int, note: str) -> str | None:
        """The job's mark at ``run``, with its timeline event; None if it has not run yet."""
        if run > self.gen.last_run(job) or run <= self.last:
            return None
        stamp = self.gen.job_text(job, run)
        self._event(stamp, job, None, self.status, note)
        self.last = run
        return stamp

    def staff_member(self) -> int:
        staff = self.library.staff
        return staff[self.rng.randrange(len(staff))]

    def colleague(self) -> int:
        """Whoever on the team acts: mostly the request's assignee."""
        if self.assigned is not None and self.rng.random() < 0.85:
            return self.assigned
        return self.gen.pick_team()

    def days(self, mean: float, at_most: float | None = None) -> float:
        wait = self.rng.expovariate(1 / mean)
        return min(wait, at_most) * DAY if at_most is not None else wait * DAY

    # -- the story ---------------------------------------------------------------------

    def tell(self) -> None:
        gen, rng = self.gen, self.rng
        plan = self.choose_outcome()
        self.choose_item(plan[0])
        submitter = self.staff_member() if rng.random() < 0.96 else gen.pick_team()
        self.status = ""  # the submission comes from nothing
        self._event(gen.clock.text(self.created), "submit", submitter, "submitted", "")
        self.status = "submitted"
        self.live(*plan)
        self.finish(submitter)

    def choose_item(self, outcome: str) -> None:
        """The item asked for and the holder that ships it (or would have): an item to be
        filled has a holder within reach (another of its format is drawn while it has
        none)."""
        gen, rng, library, created = self.gen, self.rng, self.library, self.created
        f = bisect.bisect(gen.format_weights, rng.random() * gen.format_weights[-1])
        item = gen.draw_item(library, created, f)
        holders = gen.holders_of(item)
        if outcome == "filled":
            # One loan in twenty goes to a lender above the library's max cost.
            ceiling = library.max_cost_cents if rng.random() >= 0.05 else ANY_FEE
            shipper = gen.pick_holder(holders, library, ceiling)
            draws = 1
            while shipper is None and draws < FILLED_DRAWS:
                item = gen.draw_item(library, created, f)
                holders = gen.holders_of(item)
                shipper = gen.pick_holder(holders, library, ceiling)
                draws += 1
            if shipper is None:  # none within reach: above the max cost, or anyone at all
                shipper = gen.pick_holder(holders, library, ANY_FEE)
                if shipper is None:
                    shipper = gen.pick_lender(ceiling, [])
        elif outcome == "unfilled":
            shipper = None
        else:  # cancelled: the holder it would have gone to, if any
            shipper = gen.pick_holder(holders, library, library.max_cost_cents)
        self.item, self.holders, self.shipper = item, holders, shipper

    def refuser(self) -> Lender:
        """A lender the team asks that says no: from its usual pool (the popular, within
        the max cost but one time in twenty), or now and then a holder that rarely fills;
        never the one that ships."""
        gen, rng = self.gen, self.rng
        ceiling = self.library.max_cost_cents if rng.random() >= 0.05 else ANY_FEE
        avoid = self.tried if self.shipper is None else [*self.tried, self.shipper.id]
        if rng.random() < REFUSING_HOLDERS:
            lender = gen.pick_refusing_holder(self.holders, ceiling, avoid)
            if lender is not None:
                return lender
        return gen.pick_lender(ceiling, avoid)

    def choose_outcome(self) -> tuple[str, str, int, str]:
        """(outcome, the status it ends from, lenders that say no first, how it is lost)."""
        rng, pinned = self.rng, self.pinned
        if self.never_flagged or pinned in STATUSES_ON_THE_FILLED_PATH:
            return "filled", "", 0, ""
        if pinned == "cancelled":
            return "cancelled", "submitted", 0, ""
        if pinned == "unfilled":
            return "unfilled", "sourcing", 1, ""
        if pinned == "lost":
            return "filled", "", 0, "transit"
        roll = rng.random()
        if roll < CANCELLED:
            stage = rng.random()
            if stage < 0.45:
                return "cancelled", "submitted", 0, ""
            ends_from = "sourcing" if stage < 0.80 else "sent_to_lender"
            return "cancelled", ends_from, int(rng.random() < 0.3), ""
        roll -= CANCELLED
        if roll < UNFILLED:
            stage = rng.random()
            if stage < 0.25:  # no lender owns it
                return "unfilled", "sourcing", 0, ""
            if stage < 0.85:  # every lender tried said no
                return (
                    "unfilled",
                    "sourcing",
                    1 + bisect.bisect((0.4, 0.75, 0.95), rng.random()),
                    "",
                )
            return "unfilled", "sent_to_lender", bisect.bisect((0.6, 0.9), rng.random()), ""
        roll -= UNFILLED
        failures = bisect.bisect(LENDERS_BEFORE_ONE_SHIPS, rng.random())
        loss = next((how for how, upto in LOSSES if roll < upto), "")
        return "filled", "", failures, loss

    def live(self, outcome: str, ends_from: str, failures: int, loss: str) -> None:
        gen, rng = self.gen, self.rng
        hurry = self.never_flagged  # ships well before the not-arrived line
        if outcome == "cancelled" and ends_from == "submitted":
            self.cancel(
                self.when(gen.library_time(self.created + self.days(0.8))), self.staff_member()
            )
            return
        moment = self.when(gen.team_time(self.created + self.days(0.5, 1 if hurry else None)))
        assignee = gen.pick_team()
        if not self.move(moment, "start_sourcing", assignee, "sourcing"):
            return
        self.assigned = assignee
        for _ in range(failures):
            if not self.send(hurry, self.refuser()) or not self.lender_says_no():
                return
        if outcome != "filled":
            if ends_from == "sent_to_lender":
                lender = self.shipper if outcome == "cancelled" else None
                if not self.send(hurry, lender or self.refuser()):
                    return
            if outcome == "cancelled":
                moment = self.when(gen.team_time(self.last + self.days(3)))
                self.cancel(moment, self.staff_member() if rng.random() < 0.6 else self.colleague())
            else:
                moment = self.when(gen.team_time(self.last + self.days(3 if failures else 5)))
                reason = rng.choice(UNFILLED_REASONS)
                if self.move(moment, "mark_unfilled", self.colleague(), "unfilled", reason):
                    self.close_attempt("unfilled", reason, moment)
            return
        if self.send(hurry, self.shipper) and self.ship(hurry) and self.arrive(loss == "transit"):
            self.with_the_library(loss)

    def cancel(self, moment: int, actor: int) -> None:
        reason = self.rng.choice(CANCEL_REASONS)
        if self.move(moment, "cancel", actor, "cancelled", reason):
            self.close_attempt("withdrawn", reason, moment)

    def send(self, hurry: bool, lender: Lender) -> bool:
        gen, rng = self.gen, self.rng
        moment = self.when(gen.team_time(self.last + self.days(0.4, 1 if hurry else None)))
        actor = self.colleague()
        sequence = len(self.tried) + 1
        note = f"Sent to {lender.label} (attempt {sequence})."
        if not self.move(moment, "send_to_lender", actor, "sent_to_lender", note):
            return False
        self.tried.append(lender.id)
        self.lender = lender
        self.lender_number = str(rng.randrange(100_000_000, 999_999_999))
        self.attempt = (sequence, self.lender_number, moment, lender.id, actor)
        return True

    def close_attempt(self, outcome: str, reason: str, moment: int | None) -> None:
        if self.attempt is None:
            return
        sequence, number, sent_at, lender_id, actor = self.attempt
        clock = self.gen.clock
        self.gen.emit(
            "requests_app_lenderattempt",
            str(sequence), number, clock.text(sent_at), outcome, reason,
            "\\N" if moment is None else clock.text(moment), str(lender_id), str(self.id),
            str(actor),
        )  # fmt: skip
        self.attempt = None

    def lender_says_no(self) -> bool:
        rng, lender = self.rng, self.lender
        # A quick lender says no quickly too.
        moment = self.when(self.gen.team_time(self.last + self.days(1.2 + 0.8 * lender.speed)))
        if lender in self.holders:
            reason = rng.choice(HOLDER_REASONS)
        elif FORMATS[self.item >> 40][0] in AV_FORMATS and rng.random() < 0.3:
            reason = "Policy: no AV"
        else:
            reason = rng.choice(NOT_HELD_REASONS)
        note = f"{self.lender.label} cannot supply: {reason}"
        if not self.move(moment, "lender_unfilled", self.colleague(), "sourcing", note):
            return False
        self.close_attempt("unfilled", reason, moment)
        self.lender, self.lender_number = None, ""
        return True

    def ship(self, hurry: bool) -> bool:
        gen, rng, clock, lender = self.gen, self.rng, self.gen.clock, self.lender
        # Half to one and a half times the lender's usual days.
        wait = lender.speed * (0.5 + rng.random())
        shipped_day = (self.last + int((min(wait, 2) if hurry else wait) * DAY)) // DAY
        moment = self.when(gen.team_time(shipped_day * DAY + 10 * HOUR + rng.randrange(6 * HOUR)))
        shipped_day = min(shipped_day, max(moment, self.last + 1) // DAY)
        due_day = shipped_day + rng.choice(lender.loan_days)
        method = "delivery" if lender.on_delivery and self.library.on_delivery else "mail"
        tracking = (
            f"9400{rng.randrange(10**17, 10**18)}"
            if method == "mail" and rng.random() < 0.75
            else ""
        )
        note = (
            f"Shipped {clock.date(shipped_day)} by {method.capitalize()}, "
            f"due {clock.date(due_day)}."
        )
        if not self.move(moment, "ship", self.colleague(), "shipped", note):
            return False
        self.close_attempt("shipped", "", self.last)
        self.shipped_day, self.due_day = shipped_day, due_day
        self.method, self.tracking = method, tracking
        if lender.fee_cents:
            payer = ("service", "library", "patron")[bisect.bisect((0.75, 0.95), rng.random())]
            fee = gen.fee_for(lender, self.library)
            self.charge(self.last + 300, lender.charge_kind, fee, payer)
        return True

    def charge(self, moment: int, kind: str, cents: int, payer: str, reference: str = "") -> None:
        """A charge and its timeline event, as ``services.add_charge`` writes them."""
        moment = max(moment, self.last + 1)
        if not self.alive or moment > self.gen.end:
            return
        gen = self.gen
        if kind in COST_KINDS:
            self.charges_cents += cents
            if payer != "service":
                self.owed_cents += cents
        age_days = (gen.end - moment) / DAY
        actor = self.colleague()
        at = gen.clock.text(moment)
        day = moment // DAY
        # Invoiced within the month, paid within two (IFM settles on the day it is billed).
        invoiced = kind == "ifm" or age_days > 30
        paid = kind == "reimbursement" or (age_days > 60 and self.rng.random() < 0.95)
        invoiced_on = gen.clock.date(day + (0 if kind == "ifm" else 30)) if invoiced else "\\N"
        paid_on = gen.clock.date(day + (0 if kind in ("ifm", "reimbursement") else 60))
        gen.emit(
            "requests_app_charge",
            kind, money(cents), gen.currency, payer, invoiced_on, paid_on if paid else "\\N",
            reference, at, str(actor), str(self.id), "\\N", "",
        )  # fmt: skip
        note = (
            f"{gen.charge_labels[kind]}: {money(cents)} {gen.currency}, paid by "
            f"{gen.payer_labels[payer]}. Total {money(self.charges_cents)} of max cost "
            f"{money(self.library.max_cost_cents)}."
        )
        self._event(at, "add_charge", actor, self.status, note)
        self.last = self.updated = moment

    def arrive(self, lost_in_transit: bool) -> bool:
        """Transit, the not-arrived flags, then the receipt (or the loss)."""
        gen, rng, shipped = self.gen, self.rng, self.shipped_day
        if self.never_flagged:
            self.alive = False
            return False
        if lost_in_transit:
            transit, receipt = NEVER, NEVER
        else:
            mean, least = (2, 2) if self.method == "delivery" else (3.5, 3)
            transit = int((least + rng.expovariate(1 / mean)) * DAY)
            arrival_day = (shipped * DAY + transit) // DAY
            receipt = gen.library_time(arrival_day * DAY + 10 * HOUR + rng.randrange(8 * HOUR))
            receipt = self.when(receipt)
        days = gen.not_arrived_days[self.method]
        if transit > days * DAY and rng.random() < 0.2:
            # The library may report it once its method's days have passed.
            report = gen.library_time((shipped + days + rng.randrange(3)) * DAY + 11 * HOUR)
            if report < receipt and self.move(report, "report_not_arrived", self.staff_member(),
                                              "shipped", "Reported not arrived."):  # fmt: skip
                self.not_arrived = gen.clock.text(report)
                self.trace = "reported"
        if self.not_arrived is None:
            run = gen.job_run("flag_not_arrived", (shipped + days) * DAY)
            if run < receipt:
                self.not_arrived = self.job(
                    "flag_not_arrived", run, f"Not arrived {gen.not_arrived_rule}."
                )
        if lost_in_transit:
            moment = self.when(gen.team_time((shipped + 30 + rng.randrange(30)) * DAY))
            if self.move(moment, "mark_lost", self.colleague(), "lost", "Lost in transit."):
                self.trace = "lost" if self.trace else ""
            return False
        actor = self.staff_member() if rng.random() < 0.95 else self.colleague()
        if not self.move(receipt, "mark_received", actor, "received"):
            return False
        if self.trace or self.not_arrived is not None:
            self.trace = "cleared"
        self.received_day = min((shipped * DAY + transit) // DAY, self.last // DAY)
        self.with_library_since = self.last
        return True

    def jobs_until(self, moment: int) -> None:
        """What the hourly jobs do to a loan with the library before ``moment``: flag it
        overdue (once, with an event) and remind the library of its due date."""
        gen, due = self.gen, self.due_day
        if self.overdue is None:
            run = max(gen.job_run("flag_overdue", (due + 1) * DAY),
                      gen.job_run("flag_overdue", self.with_library_since))  # fmt: skip
            if run < moment:
                self.overdue = self.job("flag_overdue", run, "Past its due date.")
        if self.reminded_for != due:
            run = max(gen.job_run("remind_due_soon", (due - REMINDER_DAYS) * DAY),
                      gen.job_run("remind_due_soon", self.with_library_since))  # fmt: skip
            if run // DAY <= due and run < moment and run <= gen.last_run("remind_due_soon"):
                self.reminded_for, self.reminded_at = due, gen.job_text("remind_due_soon", run)

    def with_the_library(self, loss: str) -> None:
        gen, rng = self.gen, self.rng
        renewals = 0
        if self.pinned == "renewal_requested":
            renewals = 1
        elif rng.random() < 0.12:
            renewals = 1 + int(rng.random() < 0.25)
        for _ in range(renewals):
            if not self.renew():
                return
        if loss == "patron":
            moment = self.when(gen.team_time((self.due_day + 30 + rng.randrange(60)) * DAY))
            self.jobs_until(moment)
            self.move(moment, "mark_lost", self.colleague(), "lost",
                      "Patron lost the item; the library pays for a replacement.")  # fmt: skip
            return
        if rng.random() < 0.12:
            return_day = self.due_day + 1 + int(rng.expovariate(1 / 6))
        else:
            return_day = self.due_day - rng.randrange(13)
        return_day = max(return_day, self.received_day + 2)
        moment = self.when(gen.library_time(return_day * DAY + 11 * HOUR + rng.randrange(6 * HOUR)))
        self.jobs_until(moment)
        tracking = f"9400{rng.randrange(10**17, 10**18)}" if self.method == "mail" else ""
        note = f"Returned by {self.method.capitalize()}" + (
            f", tracking {tracking}." if tracking else "."
        )
        if not self.move(moment, "mark_returned", self.staff_member(), "returned", note):
            return
        self.returned_day, self.return_tracking = self.last // DAY, tracking
        if loss == "return":
            moment = self.when(gen.team_time(self.last + (30 + rng.randrange(15)) * DAY))
            self.move(moment, "mark_lost", self.colleague(), "lost", "Lost on the way back.")
            return
        moment = self.when(gen.team_time(self.last + (3 + rng.expovariate(1 / 5)) * DAY))
        if tracking and self.lender.kind != "member" and rng.random() < 0.1:
            self.charge(moment - 600, "shipping", rng.randrange(400, 1_800), "service",
                        f"Return postage, tracking {tracking}")  # fmt: skip
        if self.move(moment, "complete", self.colleague(), "completed") and self.owed_cents:
            # The library pays back most of what the service paid for it (not a cost).
            if rng.random() < 0.7:
                moment = gen.team_time(self.last + (20 + rng.randrange(60)) * DAY)
                self.charge(moment, "reimbursement", self.owed_cents, "library",
                            f"Library cheque {rng.randrange(1_000, 99_999)}")  # fmt: skip

    def renew(self) -> bool:
        """Ask for a renewal and, unless the story is cut first, get the answer."""
        gen, rng, clock = self.gen, self.rng, self.gen.clock
        ask_day = self.due_day - rng.randrange(7) if rng.random() < 0.9 else self.due_day + 2
        ask = self.when(gen.library_time(max(ask_day * DAY + 10 * HOUR, self.last + DAY)))
        self.jobs_until(ask)
        wanted = self.due_day + rng.choice((14, 21, 28, 28))
        staff = self.staff_member()
        if not self.move(ask, "request_renewal", staff, "renewal_requested",
                         f"Asked for {clock.date(wanted)}."):  # fmt: skip
            return False
        self.renewal = (wanted, self.last, staff)
        answer = self.when(gen.team_time(self.last + self.days(1.5)))
        self.jobs_until(answer)
        approved = rng.random() < 0.8
        actor = self.colleague()
        note = f"Renewal approved, due {clock.date(wanted)}." if approved else "Renewal denied."
        if not self.move(answer, "answer_renewal", actor, "received", note):
            return False
        wanted, asked_at, staff = self.renewal
        self.gen.emit(
            "requests_app_renewalrequest",
            clock.date(wanted), clock.text(asked_at), "approved" if approved else "denied",
            clock.date(wanted) if approved else "\\N", clock.text(self.last), "", str(actor),
            str(self.id), str(staff),
        )  # fmt: skip
        self.renewal = None
        if approved:
            self.due_day = wanted
            if wanted >= self.last // DAY:
                self.overdue = None  # answer_renewal clears a flag the new date undoes
            self.with_library_since = self.last
        return True

    # -- the row -----------------------------------------------------------------------

    def finish(self, submitter: int) -> None:
        gen, rng, clock = self.gen, self.rng, self.gen.clock
        citation, key = gen.citation_of(self.item)
        library = self.library
        # What the library has asked for, and until when it was open (pruned of the long
        # ended now and then).
        asked = library.items
        asked[self.item] = NEVER if self.ended is None else self.ended
        if len(asked) >= library.items_pruned_at:
            for number in [number for number, ended in asked.items() if ended < self.created]:
                del asked[number]
            library.items_pruned_at = max(256, 2 * len(asked))
        if self.attempt is not None:
            self.close_attempt("pending", "", None)
        if self.renewal is not None:
            wanted, asked_at, staff = self.renewal
            gen.emit(
                "requests_app_renewalrequest",
                clock.date(wanted), clock.text(asked_at), "pending", "\\N", "\\N", "", "\\N",
                str(self.id), str(staff),
            )  # fmt: skip
        if self.status in WITH_LIBRARY:
            self.jobs_until(NEVER)
        if self.never_flagged:
            gen.due_not_arrived += 1
        # The retention job has taken the patron off a request that ended long enough ago.
        patron = "\\N"
        if (self.ended is None or self.ended >= gen.retention_cutoff) and rng.random() >= 0.03:
            patron = str(gen.patron_for(self.library, self.created))
        needed_by = "\\N"
        if rng.random() < 0.2:
            needed_by = clock.date(self.created // DAY + rng.randrange(14, 60))

        def day(d: int | None) -> str:
            return "\\N" if d is None else clock.date(d)

        lender = self.lender
        gen.emit(
            "requests_app_borrowingrequest",
            str(self.id), str(self.library.id), patron, str(submitter), null_or(self.assigned),
            *citation, key, needed_by, money(self.library.max_cost_cents),
            rng.choice(REQUEST_NOTES) if rng.random() < 0.1 else "", self.status,
            "\\N" if lender is None else str(lender.id), self.lender_number,
            day(self.shipped_day), self.method, self.tracking, day(self.due_day),
            day(self.received_day), day(self.returned_day),
            self.method if self.returned_day is not None else "", self.return_tracking,
            money(self.charges_cents), null_or(self.not_arrived), null_or(self.overdue),
            day(self.reminded_for), null_or(self.reminded_at), clock.text(self.created),
            clock.text(self.updated), "\\N" if self.ended is None else clock.text(self.ended),
            self.trace, "\\N", "\\N", "\\N", "\\N", "\\N",
        )  # fmt: skip
        gen.statuses[self.status] += 1


# --- The run -----------------------------------------------------------------------------

#: Apps whose tables ``--replace`` empties (with what refers to their rows).
APP_LABELS = ("members", "lenders", "requests_app", "admin", "sessions", "axes",
              "otp_totp")  # fmt: skip
#: Tables whose rows mean the database is in use.
HOLDERS = ("members_memberlibrary", "members_user", "lenders_lender", "members_patron",
           "requests_app_borrowingrequest")  # fmt: skip


def app_tables() -> list[str]:
    from django.apps import apps

    tables = []
    for label in APP_LABELS:
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            if model._meta.managed and model._meta.db_table not in tables:
                tables.append(model._meta.db_table)
    return tables


def check_models() -> None:
    """The generator writes every column the models have (the database fills ``id`` where
    the generator does not) and knows every status and cost, so a change to the models
    fails here, not halfway through a fill."""
    from django.apps import apps

    from requests_app.models import FINAL_STATUSES, Charge, Status

    if set(STATUSES) != set(Status.values) or FINAL != FINAL_STATUSES:
        raise SystemExit("benchmarks.generate is out of date: the statuses have changed.")
    if COST_KINDS != Charge.COST_KINDS:
        raise SystemExit("benchmarks.generate is out of date: the cost kinds have changed.")

    for model in apps.get_models(include_auto_created=True):
        table = model._meta.db_table
        if table in COLUMNS:
            have = {f.column for f in model._meta.concrete_fields} - {"id"}
            written = set(COLUMNS[table]) - {"id"}
            if have != written:
                raise SystemExit(
                    f"benchmarks.generate is out of date for {table}: the model has "
                    f"{sorted(have - written)} that it does not write, and it writes "
                    f"{sorted(written - have)} that the model does not have."
                )


def held_rows(cursor) -> dict[str, bool]:
    held = {}
    for table in HOLDERS:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")  # noqa: S608 - our names
        held[table] = cursor.fetchone()[0]
    return held


def drop_keys_and_indexes(cursor, tables: tuple[str, ...]) -> list[str]:
    """Drop the tables' indexes, keys and foreign keys (and foreign keys to them); return
    the statements that make them again, in order."""
    cursor.execute(
        """
        SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype
        FROM pg_constraint c
        WHERE (c.contype IN ('p', 'u', 'x') AND c.conrelid = ANY(%(tables)s::regclass[]))
           OR (c.contype = 'f' AND (c.conrelid = ANY(%(tables)s::regclass[])
                                    OR c.confrelid = ANY(%(tables)s::regclass[])))
        ORDER BY c.contype <> 'f', c.conrelid::regclass::text, c.conname
        """,
        {"tables": list(tables)},
    )
    constraints = cursor.fetchall()
    cursor.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%(tables)s::regclass[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                          WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
        ORDER BY 1
        """,
        {"tables": list(tables)},
    )
    indexes = cursor.fetchall()
    # Finer statistics set on an index's columns (a migration's) are lost with the index.
    cursor.execute(
        """
        SELECT i.indexrelid::regclass::text, a.attnum, a.attstattarget
        FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indexrelid
        WHERE i.indrelid = ANY(%(tables)s::regclass[]) AND a.attstattarget > 0
        ORDER BY 1, 2
        """,
        {"tables": list(tables)},
    )
    statistics = cursor.fetchall()
    for table, name, _, _ in constraints:  # foreign keys first
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    rebuild = [definition for _, definition in indexes]
    rebuild += [
        f"ALTER INDEX {name} ALTER COLUMN {column} SET STATISTICS {target}"
        for name, column, target in statistics
    ]
    keys = [(t, n, d) for t, n, d, kind in constraints if kind != "f"]
    foreign = [(t, n, d) for t, n, d, kind in constraints if kind == "f"]
    rebuild += [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, d in keys + foreign]
    return rebuild


def reset_sequences(cursor) -> None:
    """Set every table's id sequence past its rows, so the app's own inserts follow."""
    from django.apps import apps
    from django.core.management.color import no_style
    from django.db import connection

    models = []
    for label in APP_LABELS:
        models += apps.get_app_config(label).get_models(include_auto_created=True)
    for statement in connection.ops.sequence_reset_sql(no_style(), models):
        cursor.execute(statement)


def run(options: argparse.Namespace, *, out=sys.stdout) -> Summary:
    """Fill the default database (Django set up, migrated, PostgreSQL) as ``options`` say."""
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone

    if connection.vendor != "postgresql":
        raise SystemExit("benchmarks.generate fills PostgreSQL (set DATABASE_URL), not SQLite.")
    if connection.in_atomic_block:
        raise SystemExit("benchmarks.generate runs its own transaction: call it outside one.")
    check_models()
    summary = Summary()
    with connection.cursor() as cursor:
        held = held_rows(cursor)
    if any(held.values()):
        if options.reuse:
            with connection.cursor() as cursor:
                for table in HOLDERS:
                    cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - our names
                    summary.rows[table] = cursor.fetchone()[0]
            print("--reuse: keeping the rows already there, adding none.", file=out)
            return summary
        if not options.replace:
            tables = ", ".join(table for table, has in held.items() if has)
            raise SystemExit(
                f"The database already holds rows ({tables}). Say --reuse to use them as "
                "they are, or --replace to empty every table of the app and fill it anew."
            )
    elif options.reuse:
        raise SystemExit("--reuse: the database holds no requests to reuse.")

    def phase(name: str, started: float) -> float:
        now = time.perf_counter()
        summary.phases[name] = now - started
        return now

    mark = time.perf_counter()
    today = timezone.localdate()
    gen = Generator(options, today=today, settings=settings, password=make_password(PASSWORD))

    def progress(done: int) -> None:
        if done % (options.batch * 10) == 0:
            elapsed = time.perf_counter() - mark
            print(f"  {done:,} requests, {elapsed:.0f} s", file=out, flush=True)

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            # Emptied in this transaction, so COPY can write the rows frozen.
            cursor.execute(f"TRUNCATE {', '.join(app_tables())} RESTART IDENTITY CASCADE")
            rebuild = drop_keys_and_indexes(cursor, BULK_TABLES)
        mark = phase("prepare (empty, drop indexes)", mark)
        from members.models import Region

        Region.objects.bulk_create(Region(name=name) for name in REGIONS)  # the admin's list
        copier = Copier(connection.connection)
        gen.write_libraries()
        gen.write_people()
        gen.write_lenders()
        copier.send(gen.take_lines())
        copier.wait()
        mark = phase("libraries, people, lenders", mark)
        gen.write_requests(copier, progress)
        copier.wait()
        wanted = round(options.requests * options.due_not_arrived)
        if gen.due_not_arrived != wanted:
            raise RuntimeError(f"wrote {gen.due_not_arrived} never-flagged loans, not {wanted}")
        mark = phase("requests and their rows (COPY)", mark)
        with connection.cursor() as cursor:
            for statement in rebuild:
                cursor.execute(statement)
            mark = phase("indexes and constraints", mark)
            reset_sequences(cursor)
    mark = phase("sequences, commit", mark)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        mark = phase("vacuum analyze", mark)
        cursor.execute("SELECT pg_database_size(current_database())")
        summary.database_bytes = cursor.fetchone()[0]
    summary.rows = Counter({table: gen.rows[table] for table in COLUMNS})
    summary.statuses = gen.statuses
    summary.due_not_arrived = gen.due_not_arrived
    return summary


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illdesk.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("benchmarks.generate fills PostgreSQL (set DATABASE_URL), not SQLite.")
    call_command("migrate", verbosity=0)
    print(
        f"Filling {connection.settings_dict['NAME']}: {options.requests:,} requests, "
        f"{options.libraries:,} libraries, {options.lenders:,} lenders, {options.years} "
        f"years, seed {options.seed}",
        flush=True,
    )
    summary = run(options)
    print(summary.report())


if __name__ == "__main__":
    main()
