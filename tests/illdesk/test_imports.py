"""Going live: the service's libraries, lenders, staff, regions and open loans from CSV,
through ``manage.py import`` and the admin's import pages (docs/go-live.md). Each kind:
a good file, the same file twice (nothing changes), a changed row (updated, with history),
a bad file (refused whole, each problem by line and field)."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from lenders.models import AvailabilityReport, Lender
from members.models import MemberLibrary, Region, User
from requests_app.models import BorrowingRequest, Status

pytestmark = pytest.mark.django_db

LIBRARIES = """name,ill_code,bpl_number,library_type,region,max_cost,contact_email,on_delivery
Aldgate Public Library,ALDG,70001,public,Metro Boston,25.00,ill@aldgate.example.org,yes
Bexley Free Library,BEXL,70002,public,Western,0,,no
"""
LENDERS = """name,oclc_symbol,kind,charges_fees,usual_fee,iso18626_address,agency_id_type,agency_id_value,iso18626_password,lending,accepting_returns,closed_from,closed_until,availability_source,availability_note
Corbin College Library,CBQ,in_state,no,0,,,,,yes,no,,,E-mail,Returns held until March
Dunmore University,DMQ,out_of_state,yes,15.00,https://ill.dunmore.example.edu/iso18626,ISIL,US-DUN,s3cret,,,,,,
"""
STAFF = """username,first_name,last_name,email,role,library,is_active
ada,Ada,Aldgate,ada@aldgate.example.org,library_staff,ALDG,yes
tom,Tom,Team,tom@illdesk.example.org,team,,yes
"""


def run(kind: str, text: str, tmp_path, *extra: str) -> str:
    path = tmp_path / f"{kind}.csv"
    path.write_text(text)
    out = io.StringIO()
    call_command(
        "import", kind, str(path), "--no-progress", *extra, stdout=out, stderr=io.StringIO()
    )
    return out.getvalue()


def refused(kind: str, text: str, tmp_path) -> str:
    path = tmp_path / f"{kind}.csv"
    path.write_text(text)
    errors = io.StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import", kind, str(path), "--no-progress", stderr=errors)
    return errors.getvalue()


@pytest.fixture
def regions_in(db):
    for name in ("Metro Boston", "Western"):
        Region.objects.get_or_create(name=name)


def test_regions_import_once(tmp_path):
    assert "2 added" in run("regions", "name\nCape Cod\nNorth Shore\n", tmp_path)
    assert "2 unchanged" in run("regions", "name\nCape Cod\nNorth Shore\n", tmp_path)
    assert Region.objects.filter(name__in=["Cape Cod", "North Shore"]).count() == 2


def test_a_bad_regions_file_is_refused_whole(tmp_path):
    errors = refused("regions", "name\nCape Ann\n\n" + "x" * 61 + "\n", tmp_path)
    assert "line 4, name:" in errors
    assert not Region.objects.filter(name="Cape Ann").exists()


def test_libraries_import_update_with_history_and_change_nothing_twice(tmp_path, regions_in):
    assert "2 added, 0 changed, 0 unchanged" in run("libraries", LIBRARIES, tmp_path)
    aldgate = MemberLibrary.objects.get(ill_code="ALDG")
    assert (aldgate.region, aldgate.max_cost, aldgate.on_delivery) == ("Metro Boston", 25, True)
    assert MemberLibrary.objects.get(ill_code="BEXL").on_delivery is False
    assert aldgate.history.count() == 1
    assert aldgate.history.first().history_change_reason == "Imported from a file"

    assert "0 added, 0 changed, 2 unchanged" in run("libraries", LIBRARIES, tmp_path)
    assert aldgate.history.count() == 1

    changed = LIBRARIES.replace("Metro Boston,25.00", "Metro Boston,30.00")
    assert "1 changed, 1 unchanged" in run("libraries", changed, tmp_path)
    aldgate.refresh_from_db()
    assert aldgate.max_cost == 30 and aldgate.history.count() == 2


def test_a_bad_library_file_is_refused_whole_by_line_and_field(tmp_path, regions_in):
    bad = LIBRARIES + "Cray Library,CRAY,7a003,public,Atlantis,-5,not-an-email,yes\n"
    errors = refused("libraries", bad, tmp_path)
    assert "line 4, bpl_number:" in errors
    assert "line 4, region: “Atlantis” is not one of the service's regions" in errors
    assert "line 4, max_cost:" in errors and "line 4, contact_email:" in errors
    assert not MemberLibrary.objects.filter(ill_code__in=["ALDG", "BEXL", "CRAY"]).exists()


def test_a_dry_run_saves_nothing(tmp_path, regions_in):
    assert "checked; nothing saved (--dry-run): 2 added" in run(
        "libraries", LIBRARIES, tmp_path, "--dry-run"
    )
    assert not MemberLibrary.objects.filter(ill_code="ALDG").exists()


def test_lenders_import_with_availability_and_a_sealed_password(tmp_path):
    assert "2 added" in run("lenders", LENDERS, tmp_path)
    corbin = Lender.objects.get(oclc_symbol="CBQ")
    report = corbin.current_availability()
    assert (report.lending, report.accepting_returns) == (True, False)
    assert report.note == "Returns held until March" and report.source == "E-mail"
    dunmore = Lender.objects.get(oclc_symbol="DMQ")
    assert dunmore.exchanges_iso18626 and dunmore.iso18626_password() == "s3cret"
    assert "s3cret" not in dunmore.iso18626_password_sealed
    assert not dunmore.availability_reports.exists()

    assert "2 unchanged" in run("lenders", LENDERS, tmp_path)
    assert AvailabilityReport.objects.count() == 1

    reopened = LENDERS.replace("yes,no,,,E-mail,Returns held until March", "yes,yes,,,E-mail,Open")
    assert "1 changed, 1 unchanged" in run("lenders", reopened, tmp_path)
    assert corbin.current_availability().accepting_returns is True
    assert AvailabilityReport.objects.count() == 2


def test_a_bad_lender_file_is_refused_whole(tmp_path):
    bad = (
        LENDERS
        + "Elm Library,EMQ,nowhere,no,0,https://elm.example.org/iso,,,,,,2027-02-01,2027-01-01,,\n"
    )
    errors = refused("lenders", bad, tmp_path)
    assert "line 4, kind:" in errors
    assert "line 4, agency_id_value: An ISO 18626 partner needs its agency id." in errors
    assert "line 4, closed_until:" in errors
    assert not Lender.objects.filter(oclc_symbol__in=["CBQ", "DMQ", "EMQ"]).exists()


def test_staff_import_without_passwords(tmp_path, regions_in):
    run("libraries", LIBRARIES, tmp_path)
    assert "2 added" in run("staff", STAFF, tmp_path)
    ada = User.objects.get(username="ada")
    assert ada.library.ill_code == "ALDG" and ada.is_library_staff
    assert not ada.has_usable_password()
    assert "2 unchanged" in run("staff", STAFF, tmp_path)
    moved = STAFF.replace("library_staff,ALDG", "library_staff,BEXL")
    assert "1 changed" in run("staff", moved, tmp_path)
    assert User.objects.get(username="ada").library.ill_code == "BEXL"


def test_a_bad_staff_file_is_refused_whole(tmp_path, regions_in):
    run("libraries", LIBRARIES, tmp_path)
    bad = (
        STAFF
        + "zed,Zed,Nowhere,zed@example.org,library_staff,NOPE,yes\nyan,Yan,X,yan,wizard,,yes\n"
    )
    errors = refused("staff", bad, tmp_path)
    assert "line 4" in errors and "NOPE" in errors or "line 4, library" in errors
    assert "line 5, role:" in errors and "line 5, email:" in errors
    assert not User.objects.filter(username__in=["ada", "tom", "zed", "yan"]).exists()


# --- Open loans -------------------------------------------------------------------------


def day(days_ago: int) -> str:
    return (timezone.localdate() - dt.timedelta(days=days_ago)).isoformat()


def loans_file() -> str:
    due = (timezone.localdate() + dt.timedelta(days=20)).isoformat()
    later = (timezone.localdate() + dt.timedelta(days=40)).isoformat()
    header = (
        "old_id,library,patron_card,patron_name,title,author,status,submitted_on,lender,"
        "sent_on,shipped_on,due_date,shipping_method,tracking_number,received_on,"
        "renewal_asked_on,renewal_due_date,returned_on,return_method,return_tracking\n"
    )
    rows = [
        f"OLD-1,ALDG,2100001,Pat One,Sourced Book,,sourcing,{day(3)},,,,,,,,,,,,",
        f"OLD-2,ALDG,2100002,Pat Two,Sent Book,,sent_to_lender,{day(5)},CBQ,{day(4)},,,,,,,,,,",
        f"OLD-3,ALDG,2100003,Pat Three,Shipped Book,,shipped,{day(9)},CBQ,{day(8)},{day(6)},{due},mail,9400 111,,,,,,",
        f"OLD-4,ALDG,2100001,Pat One,Renewed Book,,renewal_requested,{day(30)},CBQ,{day(29)},{day(25)},{due},delivery,,{day(20)},{day(1)},{later},,,",
        f"OLD-5,BEXL,2200001,Pam Bex,Returned Book,,returned,{day(40)},DMQ,{day(39)},{day(35)},{due},delivery,,{day(30)},,,{day(2)},mail,9400 222",
    ]
    return header + "\n".join(rows) + "\n"


@pytest.fixture
def service(tmp_path, regions_in):
    run("libraries", LIBRARIES, tmp_path)
    run("lenders", LENDERS, tmp_path)
    run("staff", STAFF + "bea,Bea,Bexley,bea@bexley.example.org,library_staff,BEXL,yes\n", tmp_path)


def test_open_loans_become_requests_with_their_timelines(tmp_path, service):
    assert "5 added, 0 unchanged" in run("loans", loans_file(), tmp_path)
    moved = {r.notes.split("was ")[1].rstrip("."): r for r in BorrowingRequest.objects.all()}
    assert {old: r.status for old, r in moved.items()} == {
        "OLD-1": Status.SOURCING, "OLD-2": Status.SENT_TO_LENDER, "OLD-3": Status.SHIPPED,
        "OLD-4": Status.RENEWAL_REQUESTED, "OLD-5": Status.RETURNED,
    }  # fmt: skip
    shipped = moved["OLD-3"]
    assert shipped.shipped_on == timezone.localdate() - dt.timedelta(days=6)
    assert shipped.shipping_tracking == "9400 111" and shipped.lender.oclc_symbol == "CBQ"
    events = list(shipped.events.order_by("at").values_list("action", flat=True))
    assert events == ["submit", "start_sourcing", "send_to_lender", "ship"]
    first = shipped.events.order_by("at").first()
    assert timezone.localtime(first.at).date() == timezone.localdate() - dt.timedelta(days=9)
    assert moved["OLD-1"].patron == moved["OLD-4"].patron  # one patron, two loans
    returned = moved["OLD-5"]
    assert returned.events.get(action="mark_returned").actor.username == "bea"

    assert "0 added, 5 unchanged" in run("loans", loans_file(), tmp_path)
    assert BorrowingRequest.objects.count() == 5


def test_a_bad_loans_file_is_refused_whole_by_line_and_field(tmp_path, service):
    bad = loans_file() + (
        f"OLD-6,NOPE,1,,A Book,,shipped,{day(3)},ZZZ,{day(2)},,,,,,,,,,\n"
        f"OLD-7,ALDG,1,Pat New,A Book,,shipped,{day(3)},CBQ,{day(2)},{day(4)},{day(1)},mail,,,,,,,\n"
        f",ALDG,1,,A Book,,lost,{day(3)},,,,,,,,,,,,\n"
    )
    errors = refused("loans", bad, tmp_path)
    assert "line 7, library: no member library has the ILL code “NOPE”" in errors
    assert "line 7, lender: no lender has the OCLC symbol “ZZZ”" in errors
    assert "line 7, shipped_on: a shipped loan needs this day" in errors
    assert "line 8, shipped_on: It cannot have shipped before it was sent to the lender" in errors
    assert "line 9, old_id:" in errors and "line 9, status: “lost” is not an open loan" in errors
    assert not BorrowingRequest.objects.exists()


def test_lines_are_the_files_lines_blank_ones_counted(tmp_path, service, regions_in):
    bad_loan = f"OLD-9,NOPE,1,Pat,A Book,,sourcing,{day(3)},,,,,,,,,,,,\n"
    errors = refused("loans", loans_file().replace("\nOLD-2", "\n\nOLD-2") + bad_loan, tmp_path)
    assert errors.startswith("line 8, library:")
    errors = refused(
        "libraries", LIBRARIES + "\n\nCray,CRAY,70003,public,Atlantis,0,,yes\n", tmp_path
    )
    assert errors.startswith("line 6, region:")


def test_an_unreadable_file_is_a_clear_error(tmp_path):
    path = tmp_path / "libraries.csv"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import", "libraries", str(path), "--no-progress")


# --- The admin's import pages --------------------------------------------------------------


def test_the_admin_previews_then_confirms_an_import(client, admin_user, regions_in):
    client.force_login(admin_user)
    page = client.get("/admin/members/memberlibrary/import/")
    assert page.status_code == 200
    upload = io.BytesIO(LIBRARIES.encode())
    upload.name = "libraries.csv"
    preview = client.post(
        "/admin/members/memberlibrary/import/",
        {"resource": "0", "format": "0", "import_file": upload},
    )
    text = preview.content.decode()
    assert preview.status_code == 200 and "Aldgate Public Library" in text and "New" in text
    assert not MemberLibrary.objects.filter(ill_code="ALDG").exists()  # a preview saves nothing

    form = preview.context["confirm_form"]
    done = client.post(
        "/admin/members/memberlibrary/process_import/",
        {name: form.initial.get(name, "") for name in form.fields},
    )
    assert done.status_code == 302
    assert MemberLibrary.objects.filter(ill_code__in=["ALDG", "BEXL"]).count() == 2


def test_an_imported_account_sets_its_first_password_from_an_emailed_link(
    client, tmp_path, regions_in, mailoutbox
):
    run("libraries", LIBRARIES, tmp_path)
    run("staff", STAFF, tmp_path)
    client.post("/accounts/password-reset/", {"email": "ADA@aldgate.example.org"})
    (mail,) = mailoutbox
    assert mail.to == ["ada@aldgate.example.org"]
    link = next(word for word in mail.body.split() if "/accounts/reset/" in word)
    path = link.split("://", 1)[1].split("/", 1)[1]
    form = client.get(f"/{path}", follow=True)
    new_password = "a first password of her own"
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
    )
    assert done.status_code == 302
    assert User.objects.get(username="ada").check_password(new_password)
    again = client.get(f"/{path}", follow=True)  # single use
    assert "new_password1" not in again.content.decode()


def test_moved_loans_mail_nobody_and_tell_no_lender(tmp_path, service, mailoutbox):
    from requests_app.models import ExchangeMessage, Notification

    Lender.objects.filter(oclc_symbol="CBQ").update(
        iso18626_address="http://127.0.0.1:9/iso", agency_id_type="ISIL", agency_id_value="US-CB"
    )
    run("loans", loans_file(), tmp_path)
    assert not Notification.objects.filter(sent_at__isnull=True).exists()
    assert not mailoutbox
    moved = ExchangeMessage.objects.filter(direction="out")
    assert moved.exists() and set(moved.values_list("state", flat=True)) == {"not_sent"}


def test_a_staff_file_makes_no_admin_and_changes_none(tmp_path, regions_in, admin_user):
    run("libraries", LIBRARIES, tmp_path)
    errors = refused(
        "staff",
        STAFF + "boss,Big,Boss,boss@example.org,admin,,yes\n"
        f"{admin_user.username},A,Dmin,admin@example.org,team,,no\n",
        tmp_path,
    )
    assert "line 4, role: A file makes library staff or team members" in errors
    assert "line 5, username: This is an admin's account" in errors
    admin_user.refresh_from_db()
    assert admin_user.is_active and admin_user.role == "admin"
    assert not User.objects.filter(username="boss").exists()


# --- A review's findings -------------------------------------------------------------------


def test_the_service_account_cannot_be_moved_in_by_a_file(tmp_path, regions_in):
    from members.services import service_account

    run("libraries", LIBRARIES, tmp_path)
    service_account()
    errors = refused(
        "staff", STAFF + "illdesk-service,X,Y,x@example.org,library_staff,ALDG,yes\n", tmp_path
    )
    assert "line 4, username: This name is the service's own account." in errors
    assert User.objects.get(username="illdesk-service").library is None


def test_an_empty_yes_no_cell_keeps_an_existing_value(tmp_path, regions_in):
    run("libraries", LIBRARIES, tmp_path)
    run("staff", STAFF, tmp_path)
    User.objects.filter(username="ada").update(is_active=False)
    assert "2 unchanged" in run("staff", STAFF.replace("ALDG,yes", "ALDG,"), tmp_path)
    assert not User.objects.get(username="ada").is_active


def test_a_bad_availability_value_is_refused_on_its_own_column(tmp_path):
    errors = refused("lenders", LENDERS.replace("yes,no,,,E-mail", "perhaps,no,,,E-mail"), tmp_path)
    assert "line 2, lending: “perhaps” is not yes or no." in errors


def test_odd_amounts_and_a_loan_twice_in_one_file_are_refused_by_line(tmp_path, service):
    extra = (
        f"OLD-8,ALDG,2100009,Pat Nine,Another Book,,sourcing,{day(3)},,,,,,,,,,,,\n"
        f"OLD-8,ALDG,2100010,Pat Ten,Yet Another,,sourcing,{day(3)},,,,,,,,,,,,\n"
    )
    errors = refused("loans", loans_file() + extra, tmp_path)
    assert "line 8, old_id: OLD-8 is in this file twice." in errors
    with_cost = "old_id,library,patron_card,patron_name,title,status,submitted_on,max_cost\n" + (
        f"OLD-20,ALDG,2100020,Pat,A Book,submitted,{day(2)},NaN\n"
    )
    assert "line 2, max_cost: “NaN” is not an amount." in refused("loans", with_cost, tmp_path)


def test_the_import_quiets_only_its_own_steps(tmp_path, service, monkeypatch, request_in):
    from requests_app import loan_import
    from requests_app.models import Notification

    live = request_in("submitted")
    Notification.objects.filter(request=live).update(sent_at=None)
    original = loan_import._import_row
    meanwhile = []

    def and_meanwhile(row, context):
        if not meanwhile:  # the live service mails someone while the import runs
            meanwhile.append(
                Notification.objects.create(request=live, kind="message", audience="library")
            )
        return original(row, context)

    monkeypatch.setattr(loan_import, "_import_row", and_meanwhile)
    run("loans", loans_file(), tmp_path)
    assert Notification.objects.get(pk=meanwhile[0].pk).sent_at is None
