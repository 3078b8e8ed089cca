"""The actions offered on a request's page, for the library and for the team.

Each is a URL name, the form that reads its input, the one workflow or service function
that does it, and the words around it. Whether a form is offered follows the workflow
(``workflow.allowed_actions``), so the page never offers a move the workflow would refuse.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.forms import WorkflowForm
from members.models import User

from .. import services, workflow
from ..models import BorrowingRequest
from . import forms as f


@dataclass(frozen=True)
class PageAction:
    slug: str
    form: type[WorkflowForm]
    perform: Callable[[int, User, dict[str, Any]], object]
    heading: str
    button: str
    done: str
    #: The workflow action that must be allowed now; None for a non-status action.
    move: str | None = None
    #: For a non-status action: only the team may take it.
    team_only: bool = False
    #: Shown first and emphasised: the usual next step.
    primary: bool = False
    #: Shown beside the request's facts, not among its next steps.
    side: bool = False
    #: A warning colour on its button: it ends something.
    danger: bool = False
    #: The form's starting values, from the request.
    initial: Callable[[BorrowingRequest], dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if self.move is not None and self.slug != workflow.MOVES[self.move].slug:
            raise ValueError(f"{self.slug}: a move's page action goes by the move's slug")

    def unbound_form(self, req: BorrowingRequest) -> WorkflowForm:
        return self.form(prefix=self.slug, initial=self.initial(req) if self.initial else None)

    def permitted(self, req: BorrowingRequest, user: User) -> bool:
        """Whether this user's role may ever take the action on this request."""
        if self.move is not None:
            return workflow.actor_side(user, req.library_id) in workflow.MOVES[self.move].sides
        return user.is_team or not self.team_only

    def offered(self, req: BorrowingRequest, user: User, allowed: set[str]) -> bool:
        """Whether to show its form now: permitted, and the status allows it."""
        if self.move is not None:
            return self.move in allowed
        return self.permitted(req, user)


ACTIONS = [
    # The library's next steps.
    PageAction(
        "receive", f.ReceiveForm,
        lambda pk, user, d: workflow.mark_received(pk, actor=user, received_on=d["received_on"]),
        "Has it arrived?", "Mark received", "Marked received.",
        move="mark_received", primary=True,
    ),
    PageAction(
        "return", f.ReturnForm,
        lambda pk, user, d: workflow.mark_returned(
            pk, actor=user, method=d["method"], tracking_number=d["tracking_number"]
        ),
        "Send it back", "Mark returned", "Marked returned.",
        move="mark_returned", primary=True,
    ),
    PageAction(
        "request-renewal", f.RenewalForm,
        lambda pk, user, d: workflow.request_renewal(pk, actor=user, due_date=d["due_date"]),
        "Need it longer?", "Request renewal",
        "Renewal requested; you will hear the lender's answer.",
        move="request_renewal",
    ),
    PageAction(
        "not-arrived", f.NotArrivedForm,
        lambda pk, user, d: workflow.report_not_arrived(pk, actor=user, note=d["note"]),
        "Not arrived?", "Report not arrived",
        "Reported as not arrived; the team will check with the lender.",
        move="report_not_arrived",
    ),
    # The team's next steps.
    PageAction(
        "start-sourcing", f.NoteForm,
        lambda pk, user, d: workflow.start_sourcing(pk, actor=user, note=d["note"]),
        "Find a lender", "Start sourcing",
        "Sourcing started; it is assigned to you if nobody had it.",
        move="start_sourcing", primary=True,
    ),
    PageAction(
        "send-to-lender", f.SendToLenderForm,
        lambda pk, user, d: workflow.send_to_lender(
            pk, actor=user, lender=d["lender"], lender_request_number=d["lender_request_number"]
        ),
        "Send to a lender", "Send", "Sent to the lender.",
        move="send_to_lender", primary=True,
    ),
    PageAction(
        "ship", f.ShipForm,
        lambda pk, user, d: workflow.ship(
            pk, actor=user, shipped_on=d["shipped_on"], due_date=d["due_date"],
            method=d["method"], tracking_number=d["tracking_number"],
        ),
        "The lender shipped it", "Record shipment", "Shipment recorded; the library is told.",
        move="ship", primary=True,
    ),
    PageAction(
        "lender-unfilled", f.ReasonForm,
        lambda pk, user, d: workflow.lender_unfilled(pk, actor=user, reason=d["reason"]),
        "The lender cannot supply", "Record and try the next lender",
        "Recorded; back to sourcing.",
        move="lender_unfilled",
    ),
    PageAction(
        "answer-renewal", f.AnswerRenewalForm,
        lambda pk, user, d: workflow.answer_renewal(
            pk, actor=user, approved=d["approved"], due_date=d["due_date"], note=d["note"]
        ),
        "The lender's renewal answer", "Record answer", "Renewal answer recorded.",
        move="answer_renewal", primary=True,
    ),
    PageAction(
        "complete", f.NoteForm,
        lambda pk, user, d: workflow.complete(pk, actor=user, note=d["note"]),
        "The lender checked it in", "Complete", "Completed.",
        move="complete", primary=True,
    ),
    PageAction(
        "mark-unfilled", f.ReasonForm,
        lambda pk, user, d: workflow.mark_unfilled(pk, actor=user, reason=d["reason"]),
        "No lender found", "Mark unfilled", "Marked unfilled; the library is told.",
        move="mark_unfilled",
    ),
    PageAction(
        "mark-lost", f.NoteForm,
        lambda pk, user, d: workflow.mark_lost(pk, actor=user, note=d["note"]),
        "Lost", "Mark lost", "Marked lost.",
        move="mark_lost", danger=True,
    ),
    PageAction(
        "cancel", f.CancelForm,
        lambda pk, user, d: workflow.cancel(pk, actor=user, reason=d["reason"]),
        "No longer needed?", "Cancel this request", "Request cancelled.",
        move="cancel", danger=True,
    ),
    PageAction(
        "add-charge", f.ChargeForm,
        lambda pk, user, d: services.add_charge(pk, actor=user, **d),
        "Record a charge", "Add charge", "Charge recorded.",
        team_only=True, side=True,
    ),
    PageAction(
        "max-cost", f.MaxCostForm,
        lambda pk, user, d: services.set_max_cost(
            pk, actor=user, max_cost=d["max_cost"], reason=d["reason"]
        ),
        "Change the max cost", "Set max cost", "Max cost changed.",
        team_only=True, side=True, initial=lambda req: {"max_cost": req.max_cost},
    ),
    PageAction(
        "assign", f.AssignForm,
        lambda pk, user, d: services.assign(pk, actor=user, assignee=d["assignee"]),
        "Who works on it", "Assign", "Assignment changed.",
        team_only=True, side=True, initial=lambda req: {"assignee": req.assigned_to_id},
    ),
    PageAction(
        "message", f.MessageForm,
        lambda pk, user, d: services.post_message(pk, actor=user, body=d["body"]),
        "Messages", "Send message", "Message sent.",
        side=True,
    ),
]  # fmt: skip

BY_SLUG = {action.slug: action for action in ACTIONS}


def offered_actions(req: BorrowingRequest, user: User) -> list[PageAction]:
    allowed = set(workflow.allowed_actions(req, user))
    return [action for action in ACTIONS if action.offered(req, user, allowed)]
