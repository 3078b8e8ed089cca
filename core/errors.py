"""The domain's refusals, which every door answers in its own way: a page with a message,
the API with 403 or 409 (``core.api``), an ISO 18626 message with its error."""


class WorkflowError(Exception):
    """A refused move. Names the action and the request's current status."""

    def __init__(self, action: str, status: str, message: str):
        super().__init__(message)
        self.action = action
        self.status = status
        self.message = message


class NotAllowedNow(WorkflowError):
    """The current status does not allow the action (an API answers 409)."""


class NotPermitted(WorkflowError):
    """The actor's role or library may not take the action (an API answers 403)."""
