"""Inspection photos from a phone's camera, made fit to keep: refused (naming the file and why) above
REFURB_PHOTO_MAX_BYTES or when they are not a picture; turned upright as the camera held it (EXIF orientation), scaled
down to REFURB_PHOTO_MAX_PX on the long side and stored as JPEG, which drops the rest of the metadata (a phone's GPS
position among it)."""

from __future__ import annotations

import io

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 60_000_000  # a decompression bomb is refused before it is drawn


def photo_prepared(upload) -> ContentFile:
    name = getattr(upload, "name", "") or "photo"
    limit = settings.REFURB_PHOTO_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(f"{name}: {upload.size / 2**20:.1f} MiB is more than the {limit / 2**20:.0f} MiB a "
                              "photo may be", code="too_large")
    try:
        image = Image.open(upload)
        if image.width * image.height > MAX_PIXELS:
            raise ValidationError(f"{name}: {image.width} × {image.height} pixels is more than a photo needs",
                                  code="too_many_pixels")
        image = ImageOps.exif_transpose(image)
        image.thumbnail((settings.REFURB_PHOTO_MAX_PX, settings.REFURB_PHOTO_MAX_PX))
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=85, optimize=True)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ValidationError(f"{name}: not a photo this bench can read (JPEG, PNG, WebP, HEIF saved as JPEG)",
                              code="not_an_image") from None
    stem = name.rsplit(".", 1)[0][:80] or "photo"
    return ContentFile(out.getvalue(), name=f"{stem}.jpg")
