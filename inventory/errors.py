"""Domain errors raised by inventory services. Faces (API, CLI, admin) turn them into 4xx, messages or exit codes."""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """Base for errors that are the caller's to fix, never a server fault."""


class IllegalTransition(DomainError):
    """A move the lifecycle refuses: not in the table, not the mover's to make, or into a state whose needs the card
    does not meet (`why` says which). `allowed` lists the moves the same mover could make."""

    def __init__(self, from_state: str, to_state: str, allowed: list[str], why: str = ""):
        self.from_state = from_state
        self.to_state = to_state
        self.allowed = allowed
        self.why = why
        allowed_text = ", ".join(allowed) if allowed else "none"
        because = f" ({why})" if why else ""
        super().__init__(f"cannot move a unit from {from_state!r} to {to_state!r}{because}; allowed: {allowed_text}")


class Conflict(DomainError):
    """The request was made against something that has changed since (answered 409): reload and decide again."""


class InvalidInput(DomainError):
    """Bad values, keyed by field name, like a form's errors."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()))


@dataclass(frozen=True)
class RowError:
    line: int  # line number in the file (the header is line 1); for JSON rows, 1-based row index + 1
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


class IntakeRejected(DomainError):
    """A batch failed validation. Nothing was written."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        bad_lines = len({e.line for e in errors})
        super().__init__(f"{bad_lines} row(s) rejected, nothing imported:\n" + "\n".join(map(str, errors)))
