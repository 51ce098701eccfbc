"""Domain errors of the inventory: lifecycle moves and intake batches (the shared kinds are in core.errors)."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import DomainError


class IllegalTransition(DomainError):
    """A move the lifecycle refuses: not in the table, not the mover's to make, or into a state whose needs the card
    does not meet (`why` says which). `allowed` lists the moves the same mover could make."""

    code = "illegal_transition"
    http_status = 409

    def __init__(self, from_state: str, to_state: str, allowed: list[str], why: str = ""):
        self.from_state = from_state
        self.to_state = to_state
        self.allowed = allowed
        self.why = why
        allowed_text = ", ".join(allowed) if allowed else "none"
        because = f" ({why})" if why else ""
        super().__init__(f"cannot move a unit from {from_state!r} to {to_state!r}{because}; allowed: {allowed_text}")

    def response_body(self) -> dict:
        return {"detail": str(self), "code": self.code, "from": self.from_state, "to": self.to_state,
                "allowed": self.allowed}


@dataclass(frozen=True)
class RowError:
    line: int  # line number in the file (the header is line 1); for JSON rows, 1-based row index + 1
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


class IntakeRejected(DomainError):
    """A batch failed validation. Nothing was written."""

    code = "intake_rejected"

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        bad_lines = len({e.line for e in errors})
        super().__init__(f"{bad_lines} row(s) rejected, nothing imported:\n" + "\n".join(map(str, errors)))

    def response_body(self) -> dict:
        return {"detail": f"{len({e.line for e in self.errors})} row(s) rejected; nothing was imported.",
                "code": self.code,
                "errors": [{"line": e.line, "field": e.field, "message": e.message} for e in self.errors]}
