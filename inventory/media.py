"""Files that only some users may see (inspection photos): answered by the app after its permission check, either
streamed by the web process or handed to the reverse proxy (X-Accel-Redirect to an internal location)."""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse


def protected_file_response(field_file, *, filename: str = "") -> HttpResponse:
    """The file behind `field_file`, shown inline, never cached by shared caches, and never run as a page (a
    picture that is also valid HTML stays a picture: nosniff, and a sandbox CSP should a browser render it)."""
    if not field_file:
        raise Http404
    content_type = mimetypes.guess_type(field_file.name)[0] or "application/octet-stream"
    prefix = settings.REFURB_MEDIA_ACCEL_PREFIX
    if prefix:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(field_file.name)
    else:
        try:
            handle = field_file.open("rb")
        except FileNotFoundError:
            raise Http404 from None
        response = FileResponse(handle, content_type=content_type, filename=filename)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
