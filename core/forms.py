"""Form fields shared by the admin pages of every app."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput

from .json_bounds import json_bounds_problem


class BoundedJSONFormField(forms.JSONField):
    """A JSON form field that refuses a value nested too deep or too large (validators.json_bounds_problem), with a
    form error rather than the RecursionError Django's own field lets through on a deeply nested text."""

    def to_python(self, value):
        try:
            converted = super().to_python(value)
        except RecursionError:
            raise ValidationError("nested too deeply", code="invalid") from None
        if problem := json_bounds_problem(converted):
            raise ValidationError(problem, code="invalid")
        return converted

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except RecursionError:  # shown again as typed, with the error above
            return InvalidJSONInput(data)
