"""Serializer fields for free-shape JSON: bounded in depth and size before anything walks them (DRF's own
JSONField dumps its value to check it, which recurses), so a deep or huge value is a 400 naming the field."""

from rest_framework import serializers

from ..json_bounds import JSON_MAX_BYTES, JSON_MAX_DEPTH, json_bounds_problem


class JsonBoundsMixin:
    """Refuses a value nested deeper than JSON_MAX_DEPTH or larger than JSON_MAX_BYTES serialized."""

    json_max_depth = JSON_MAX_DEPTH
    json_max_bytes = JSON_MAX_BYTES

    def to_internal_value(self, data):
        if problem := json_bounds_problem(data, max_depth=self.json_max_depth, max_bytes=self.json_max_bytes):
            raise serializers.ValidationError(problem, code="json_bounds")
        return super().to_internal_value(data)


class BoundedJSONField(JsonBoundsMixin, serializers.JSONField):
    pass


class BoundedDictField(JsonBoundsMixin, serializers.DictField):
    pass


class BoundedListField(JsonBoundsMixin, serializers.ListField):
    pass
