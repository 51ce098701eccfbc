"""Turn domain errors into 4xx answers with field errors; nothing the caller did wrong becomes a 500."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..errors import Conflict, IllegalTransition, IntakeRejected, InvalidInput


def exception_handler(exc, context):
    if isinstance(exc, IllegalTransition):
        return Response(
            {"detail": str(exc), "from": exc.from_state, "to": exc.to_state, "allowed": exc.allowed},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, Conflict):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, IntakeRejected):
        return Response(
            {
                "detail": f"{len({e.line for e in exc.errors})} row(s) rejected; nothing was imported.",
                "errors": [{"line": e.line, "field": e.field, "message": e.message} for e in exc.errors],
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, InvalidInput):
        return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        body = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DataError):
        # A value the database cannot store (e.g. text with NUL or an unpaired surrogate): the input is at fault.
        return Response({"detail": "a value in the request cannot be stored; check for invalid characters"},
                        status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, (IntegrityError, ProtectedError)):
        return Response({"detail": "conflicts with existing data; reload and retry"}, status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)
