"""Domain errors: what a caller did wrong, never a server fault. Faces turn them into 4xx answers (core.api.errors),
CLI messages with a non-zero exit, or admin messages. Each kind has a stable `code` the API returns beside its
message, so that clients branch on the code, not on the wording."""

from __future__ import annotations


class DomainError(Exception):
    """Base for errors that are the caller's to fix. `http_status` and `response_body()` are how the API answers it
    (core.api.errors), so that an app's own errors need no change to the handler."""

    code = "domain_error"
    http_status = 400

    def response_body(self) -> dict:
        return {"detail": str(self), "code": self.code}


class InvalidInput(DomainError):
    """Bad values, keyed by field name, like a form's errors (the API answers 400 with them as DRF does)."""

    code = "invalid"

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()))

    def response_body(self) -> dict:
        return self.errors  # field errors, shaped as DRF's own validation errors


class Conflict(DomainError):
    """The request was made against something that has changed since (answered 409): reload and decide again."""

    code = "conflict"
    http_status = 409
