"""View mixins every app's API uses."""

from __future__ import annotations


class ActionPermsMixin:
    """Lets an @action name the permissions it needs (`required_perms=...`); None means the model's own."""

    required_perms: tuple[str, ...] | None = None
