"""Turn domain errors into 4xx answers (field errors, or a detail with its code); nothing the caller did wrong becomes a
500."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..errors import DomainError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.response_body(), status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        body = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DataError):
        # A value the database cannot store (e.g. text with NUL or an unpaired surrogate): the input is at fault.
        return Response({"detail": "a value in the request cannot be stored; check for invalid characters"},
                        status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, (IntegrityError, ProtectedError)):
        return Response({"detail": "conflicts with existing data; reload and retry", "code": "conflict"},
                        status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)
