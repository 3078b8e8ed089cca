"""The actions offered on a request's page, for the library and for the team.

Each is a URL name, the form that reads its input, the one workflow or service function
that does it, and the words around it. Whether a form is offered follows the workflow
(``workflow.allowed_actions``), so the page never offers a move the workflow would refuse.

The page leads with the request's facts and its likely next step (``primary``); every other
action is folded, one click away. An action that ends something (``confirm``) asks first,
on a page of its own, saying what will happen: a second step that needs no JavaScript.
Some ask only for some requests (``confirm_if``): a return, when the lender is not
accepting returns.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from core.forms import WorkflowForm
from members.models import User

from .. import corrections, selectors, services, traces, workflow
from ..models import BorrowingRequest
from . import forms as f


@dataclass(frozen=True)
class PageAction:
    slug: str
    form: type[WorkflowForm]
    perform: Callable[[int, User, WorkflowForm], object]
    heading: str
    button: str
    done: str
    #: The workflow action that must be allowed now; None for a non-status action.
    move: str | None = None
    #: For a non-status action: only the team may take it.
    team_only: bool = False
    #: Shown first and open: the usual next step (always, or for a request it says).
    primary: bool | Callable[[BorrowingRequest], bool] = False
    #: Shown beside the request's facts (assignment, charges, messages), not among its steps.
    side: bool = False
    #: A warning colour on its button: it ends something.
    danger: bool = False
    #: What will happen, asked to confirm on a page of its own before it is done.
    confirm: str = ""
    #: Asks to confirm only for the requests this says (every request when None).
    confirm_if: Callable[[BorrowingRequest], bool] | None = None
    #: The confirmation page.
    confirm_template: str = "requests_app/confirm.html"
    #: Said when the confirmation page is answered no: nothing is done.
    declined: str = "Nothing has changed."
    #: Whether it has something to act on (a ledger action needs a charge it applies to).
    applies: Callable[[WorkflowForm], bool] | None = None
    #: The form's starting values, from the request.
    initial: Callable[[BorrowingRequest], dict[str, Any]] | None = None
    #: Go to the page of what it made (``request-again`` makes a new request).
    shows_result: bool = False
    #: Left off the page for this request and user though the workflow allows it, as
    #: another action does the same better there.
    left_off: Callable[[BorrowingRequest, User], bool] | None = None

    def __post_init__(self) -> None:
        if self.move is not None and self.slug != workflow.MOVES[self.move].slug:
            raise ValueError(f"{self.slug}: a move's page action goes by the move's slug")

    def asks_to_confirm(self, req: BorrowingRequest) -> bool:
        return bool(self.confirm) and (self.confirm_if is None or self.confirm_if(req))

    def is_primary(self, req: BorrowingRequest) -> bool:
        return self.primary(req) if callable(self.primary) else self.primary

    def unbound_form(self, req: BorrowingRequest) -> WorkflowForm:
        initial = self.initial(req) if self.initial else None
        return self.form(prefix=self.slug, initial=initial, subject=req)

    def bound_form(self, req: BorrowingRequest, data: Any) -> WorkflowForm:
        return self.form(data, prefix=self.slug, subject=req)

    def permitted(self, req: BorrowingRequest, user: User) -> bool:
        """Whether this user's role may ever take the action on this request."""
        if self.move is not None:
            return workflow.actor_side(user, req.library_id) in workflow.MOVES[self.move].sides
        return user.is_team or not self.team_only

    def offered(self, req: BorrowingRequest, user: User, allowed: set[str]) -> bool:
        """Whether to show its form now: permitted, and the status allows it."""
        if self.left_off is not None and self.left_off(req, user):
            return False
        if self.move is not None:
            return self.move in allowed
        return self.permitted(req, user)


def _being_traced(req: BorrowingRequest) -> bool:
    """A loan flagged not arrived: its trace is the team's next step."""
    return traces.step_of(req) in traces.OPEN_STEPS


def _has_entries(form: WorkflowForm) -> bool:
    """A ledger action's form offers a charge it applies to."""
    return bool(cast(f.ChargeEntryForm, form).entries())


def _citation(form: WorkflowForm) -> dict[str, Any]:
    return cast(f.CitationForm, form).citation()


ACTIONS = [
    # The library's next steps.
    PageAction(
        "receive", f.ReceiveForm,
        lambda pk, user, form: workflow.mark_received(
            pk, actor=user, received_on=form.cleaned_data["received_on"]
        ),
        "Has it arrived?", "Mark received", "Marked received.",
        move="mark_received", primary=True,
        # For the team, a loan being traced is received by "It turned up", with a note.
        left_off=lambda req, user: user.is_team and _being_traced(req),
    ),
    PageAction(
        "return", f.ReturnForm,
        lambda pk, user, form: workflow.mark_returned(
            pk, actor=user, method=form.cleaned_data["method"],
            tracking_number=form.cleaned_data["tracking_number"],
        ),
        "Send it back", "Mark returned", "Marked returned.",
        move="mark_returned", primary=True,
        confirm="Sending it anyway is noted on the timeline.",
        confirm_if=selectors.return_on_hold,
        confirm_template="requests_app/confirm_return.html",
        declined="Not marked returned: nothing has changed. Keep the item until the "
        "lender accepts returns again; the Lenders page shows when it does.",
    ),
    PageAction(
        "request-renewal", f.RenewalForm,
        lambda pk, user, form: workflow.request_renewal(
            pk, actor=user, due_date=form.cleaned_data["due_date"]
        ),
        "Need it longer?", "Request renewal",
        "Renewal requested; you will hear the lender's answer.",
        move="request_renewal", primary=True,
    ),
    PageAction(
        "withdraw-renewal", f.NoteForm,
        lambda pk, user, form: workflow.withdraw_renewal(
            pk, actor=user, note=form.cleaned_data["note"]
        ),
        "No longer need the renewal?", "Withdraw the renewal request",
        "Renewal withdrawn; the loan keeps its due date.",
        move="withdraw_renewal",
    ),
    PageAction(
        "not-arrived", f.NotArrivedForm,
        lambda pk, user, form: traces.report_not_arrived(
            pk, actor=user, note=form.cleaned_data["note"]
        ),
        "Not arrived?", "Report not arrived",
        "Reported as not arrived; the team will check with the lender.",
        move="report_not_arrived", primary=True,
    ),
    PageAction(
        "request-again", f.NoInputForm,
        lambda pk, user, form: workflow.request_again(pk, actor=user),
        "Ask again", "Request it again", "Requested again.",
        move="request_again", primary=True, shows_result=True,
        left_off=lambda req, user: req.followed_by.exists(),  # asked again already
    ),
    # The team's next steps.
    PageAction(
        "start-sourcing", f.NoteForm,
        lambda pk, user, form: workflow.start_sourcing(
            pk, actor=user, note=form.cleaned_data["note"]
        ),
        "Find a lender", "Start sourcing",
        "Sourcing started; it is assigned to you if nobody had it.",
        move="start_sourcing", primary=True,
    ),
    PageAction(
        "send-to-lender", f.SendToLenderForm,
        lambda pk, user, form: workflow.send_to_lender(
            pk, actor=user, lender=form.cleaned_data["lender"],
            lender_request_number=form.cleaned_data["lender_request_number"],
        ),
        "Send to a lender", "Send", "Sent to the lender.",
        move="send_to_lender", primary=True,
    ),
    PageAction(
        "lender-string", f.LenderStringForm,
        lambda pk, user, form: workflow.set_lender_string(
            pk, actor=user, lenders=form.cleaned_data["lenders"], note=form.cleaned_data["note"]
        ),
        "Set a lender string", "Set the string", "Lender string set.",
        move="set_lender_string", side=True,
    ),
    PageAction(
        "ship", f.ShipForm,
        lambda pk, user, form: workflow.ship(
            pk, actor=user, shipped_on=form.cleaned_data["shipped_on"],
            due_date=form.cleaned_data["due_date"], method=form.cleaned_data["method"],
            tracking_number=form.cleaned_data["tracking_number"],
        ),
        "The lender shipped it", "Record shipment", "Shipment recorded; the library is told.",
        move="ship", primary=True,
    ),
    PageAction(
        "trace", f.RequiredNoteForm,
        lambda pk, user, form: traces.trace(pk, actor=user, note=form.cleaned_data["note"]),
        "Trace it with the lender", "Record the trace",
        "Trace recorded; the library sees where it stands.",
        move="trace", primary=_being_traced,
    ),
    PageAction(
        "replacement-shipped", f.ReplacementForm,
        lambda pk, user, form: traces.replacement_shipped(
            pk, actor=user, shipped_on=form.cleaned_data["shipped_on"],
            due_date=form.cleaned_data["due_date"], method=form.cleaned_data["method"],
            tracking_number=form.cleaned_data["tracking_number"],
            note=form.cleaned_data["note"],
        ),
        "The lender shipped a replacement", "Record the replacement",
        "Replacement recorded; the library is told to look for it.",
        move="replacement_shipped", primary=True,
    ),
    PageAction(
        "cleared", f.ClearedForm,
        lambda pk, user, form: traces.cleared(
            pk, actor=user, received_on=form.cleaned_data["received_on"],
            note=form.cleaned_data["note"],
        ),
        "It turned up", "Mark received and close the trace", "Received; the trace is closed.",
        move="cleared", primary=True,
    ),
    PageAction(
        "lender-unfilled", f.ReasonForm,
        lambda pk, user, form: workflow.lender_unfilled(
            pk, actor=user, reason=form.cleaned_data["reason"]
        ),
        "The lender cannot supply", "Record and try the next lender",
        "Recorded; back to sourcing.",
        move="lender_unfilled",
    ),
    PageAction(
        "answer-renewal", f.AnswerRenewalForm,
        lambda pk, user, form: workflow.answer_renewal(
            pk, actor=user, approved=form.cleaned_data["approved"],
            due_date=form.cleaned_data["due_date"], note=form.cleaned_data["note"],
        ),
        "The lender's renewal answer", "Record answer", "Renewal answer recorded.",
        move="answer_renewal", primary=True,
        # The date the library asked for, which the lender usually grants.
        initial=lambda req: {"due_date": pending.requested_due_date}
        if (pending := selectors.pending_renewal(req))
        else {},
    ),
    PageAction(
        "complete", f.NoteForm,
        lambda pk, user, form: workflow.complete(pk, actor=user, note=form.cleaned_data["note"]),
        "The lender checked it in", "Complete", "Completed.",
        move="complete", primary=True,
    ),
    # Corrections: folded, one click away.
    PageAction(
        "edit-item", f.EditItemForm,
        lambda pk, user, form: corrections.edit_item(pk, actor=user, citation=_citation(form)),
        "Edit the item", "Save the item", "Item saved; the timeline shows what changed.",
        move="edit_item", initial=f.EditItemForm.initial_from,
    ),
    PageAction(
        "correct-shipment", f.CorrectShipmentForm,
        lambda pk, user, form: corrections.correct_shipment(pk, actor=user, **form.cleaned_data),
        "Correct the shipment", "Save the shipment",
        "Shipment corrected; the timeline shows what changed.",
        move="correct_shipment", initial=f.CorrectShipmentForm.initial_from,
    ),
    PageAction(
        "correct-receipt", f.CorrectReceiptForm,
        lambda pk, user, form: corrections.correct_receipt(pk, actor=user, **form.cleaned_data),
        "Correct the receipt", "Save the receipt",
        "Receipt corrected; the timeline shows what changed.",
        move="correct_receipt", initial=f.CorrectReceiptForm.initial_from,
    ),
    PageAction(
        "correct-return", f.CorrectReturnForm,
        lambda pk, user, form: corrections.correct_return(pk, actor=user, **form.cleaned_data),
        "Correct the return", "Save the return",
        "Return corrected; the timeline shows what changed.",
        move="correct_return", initial=f.CorrectReturnForm.initial_from,
    ),
    PageAction(
        "reopen", f.ReasonForm,
        lambda pk, user, form: corrections.reopen(
            pk, actor=user, reason=form.cleaned_data["reason"]
        ),
        "Marked by mistake?", "Take back the last step", "The last step is taken back.",
        move="reopen",
        confirm="The request goes back to the status before its last step, and that step's "
        "date is cleared. The library is told, with your reason.",
    ),
    # Endings: they ask to confirm.
    PageAction(
        "mark-unfilled", f.ReasonForm,
        lambda pk, user, form: workflow.mark_unfilled(
            pk, actor=user, reason=form.cleaned_data["reason"]
        ),
        "No lender found", "Mark unfilled", "Marked unfilled; the library is told.",
        move="mark_unfilled", danger=True,
        confirm="The request ends unfilled and any lender still asked is withdrawn. The "
        "library is told, with your reason, and may ask again.",
    ),
    PageAction(
        "mark-lost", f.NoteForm,
        lambda pk, user, form: workflow.mark_lost(pk, actor=user, note=form.cleaned_data["note"]),
        "Lost", "Mark lost", "Marked lost.",
        move="mark_lost", danger=True,
        confirm="The loan ends lost (a trace under way ends with it). Record what the "
        "lender bills for it as a charge. If it turns up, reopen the request.",
    ),
    PageAction(
        "cancel", f.CancelForm,
        lambda pk, user, form: workflow.cancel(pk, actor=user, reason=form.cleaned_data["reason"]),
        "No longer needed?", "Cancel this request", "Request cancelled.",
        move="cancel", danger=True,
        confirm="The request ends cancelled and any lender still asked is withdrawn. The "
        "other side (the team, or the library) is told.",
    ),
    # Beside the facts.
    PageAction(
        "add-charge", f.ChargeForm,
        lambda pk, user, form: services.add_charge(pk, actor=user, **form.cleaned_data),
        "Record a charge", "Add charge", "Charge recorded.",
        team_only=True, side=True,
    ),
    PageAction(
        "void-charge", f.VoidChargeForm,
        lambda pk, user, form: services.void_charge(
            pk, actor=user, charge_id=form.cleaned_data["charge"],
            reason=form.cleaned_data["reason"],
        ),
        "Void a charge", "Void it", "Charge voided by a reversing entry.",
        team_only=True, side=True, applies=_has_entries,
    ),
    PageAction(
        "charge-invoiced", f.ChargeInvoicedForm,
        lambda pk, user, form: services.charge_invoiced(
            pk, actor=user, charge_id=form.cleaned_data["charge"],
            invoiced_on=form.cleaned_data["invoiced_on"],
        ),
        "Record an invoice", "Mark invoiced", "Marked invoiced.",
        team_only=True, side=True, applies=_has_entries,
    ),
    PageAction(
        "charge-paid", f.ChargePaidForm,
        lambda pk, user, form: services.charge_paid(
            pk, actor=user, charge_id=form.cleaned_data["charge"],
            paid_on=form.cleaned_data["paid_on"],
        ),
        "Record a payment", "Mark paid", "Marked paid.",
        team_only=True, side=True, applies=_has_entries,
    ),
    PageAction(
        "max-cost", f.MaxCostForm,
        lambda pk, user, form: services.set_max_cost(
            pk, actor=user, max_cost=form.cleaned_data["max_cost"],
            reason=form.cleaned_data["reason"],
        ),
        "Change the max cost", "Set max cost", "Max cost changed.",
        team_only=True, side=True, initial=lambda req: {"max_cost": req.max_cost},
    ),
    PageAction(
        "assign", f.AssignForm,
        lambda pk, user, form: services.assign(
            pk, actor=user, assignee=form.cleaned_data["assignee"]
        ),
        "Who works on it", "Assign", "Assignment changed.",
        team_only=True, side=True, initial=lambda req: {"assignee": req.assigned_to_id},
    ),
    # The ISO 18626 exchange with the lender (docs/iso18626.md): the team's.
    PageAction(
        "message-lender", f.LenderMessageForm,
        lambda pk, user, form: services.message_lender(
            pk, actor=user, body=form.cleaned_data["body"]
        ),
        "Message the lender", "Send to the lender", "Sent to the lender.",
        team_only=True, side=True,
        left_off=lambda req, user: req.lender is None or not req.lender.exchanges_iso18626,
    ),
    PageAction(
        "send-again", f.SendAgainForm,
        lambda pk, user, form: services.send_again(form.cleaned_data["message"], actor=user),
        "Send a message again", "Send again", "Queued to be sent again.",
        team_only=True, side=True,
        applies=lambda form: bool(cast(f.SendAgainForm, form).failed()),
    ),
    PageAction(
        "clear-exchange", f.NoteForm,
        lambda pk, user, form: services.clear_exchange_failure(
            pk, actor=user, note=form.cleaned_data["note"]
        ),
        "Clear “exchange failing”", "Clear the flag", "The exchange flag is cleared.",
        team_only=True, side=True,
        left_off=lambda req, user: req.exchange_failed_at is None,
    ),
    PageAction(
        "message", f.MessageForm,
        lambda pk, user, form: services.post_message(
            pk, actor=user, body=form.cleaned_data["body"]
        ),
        "Messages", "Send message", "Message sent.",
        side=True,
    ),
]  # fmt: skip

BY_SLUG = {action.slug: action for action in ACTIONS}


def offered_actions(req: BorrowingRequest, user: User) -> list[PageAction]:
    allowed = set(workflow.allowed_actions(req, user))
    return [action for action in ACTIONS if action.offered(req, user, allowed)]
