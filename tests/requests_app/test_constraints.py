"""Rules the data keeps itself, in the database, whatever code writes it."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from lenders.models import Lender
from members.models import MemberLibrary, User
from requests_app.models import BorrowingRequest, Charge


def _refused(write) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


def test_ill_code_and_bpl_number_are_unique(library_one):
    _refused(
        lambda: MemberLibrary.objects.create(
            name="Copy", ill_code="ABBOT", bpl_number="1", library_type="public", region="X"
        )
    )
    _refused(
        lambda: MemberLibrary.objects.create(
            name="Copy",
            ill_code="OTHER",
            bpl_number=library_one.bpl_number,
            library_type="public",
            region="X",
        )
    )


def test_bpl_numbers_are_digits_only(library_one):
    _refused(lambda: MemberLibrary.objects.filter(pk=library_one.pk).update(bpl_number="29A9"))


def test_max_costs_and_amounts_are_not_negative(library_one, request_in, rita):
    _refused(lambda: MemberLibrary.objects.filter(pk=library_one.pk).update(max_cost=-1))
    req = request_in("submitted")
    _refused(lambda: BorrowingRequest.objects.filter(pk=req.pk).update(max_cost=-1))
    _refused(
        lambda: Charge.objects.create(
            request=req, kind="shipping", amount=Decimal("-0.01"), created_by=rita
        )
    )


def test_the_status_is_one_of_the_workflows(request_in):
    req = request_in("submitted")
    _refused(lambda: BorrowingRequest.objects.filter(pk=req.pk).update(status="teleported"))


def test_a_loan_out_has_a_due_date(request_in):
    req = request_in("received")
    _refused(lambda: BorrowingRequest.objects.filter(pk=req.pk).update(due_date=None))
    sent = request_in("sent_to_lender")
    _refused(lambda: BorrowingRequest.objects.filter(pk=sent.pk).update(status="shipped"))


def test_library_staff_accounts_belong_to_a_library(db):
    _refused(lambda: User.objects.create(username="nolib", role="library_staff"))
    assert User.objects.create_superuser("root", password="x").role == "admin"


def test_lender_oclc_symbols_are_unique_when_given(db):
    Lender.objects.create(name="A", kind="in_state", oclc_symbol="")
    Lender.objects.create(name="B", kind="in_state", oclc_symbol="")
    Lender.objects.create(name="C", kind="in_state", oclc_symbol="CCC")
    _refused(lambda: Lender.objects.create(name="D", kind="in_state", oclc_symbol="CCC"))


def test_ill_codes_are_unique_whatever_their_case(library_one):
    _refused(
        lambda: MemberLibrary.objects.create(
            name="Copy", ill_code="abbot", bpl_number="77", library_type="public", region="X"
        )
    )


def test_an_arrived_or_returned_loan_keeps_its_dates(request_in):
    received = request_in("received")
    _refused(lambda: BorrowingRequest.objects.filter(pk=received.pk).update(received_on=None))
    returned = request_in("returned")
    _refused(lambda: BorrowingRequest.objects.filter(pk=returned.pk).update(return_method=""))
