"""Admin pieces every app uses."""

from django.contrib import admin, messages
from django.http import QueryDict


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by services (runs, grades, certificates): shown, never added, changed or deleted by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class FilterSetAdmin(admin.ModelAdmin):
    """An admin list that also takes its app's API filters (`filterset_class`, from the app's filtersets.py), so
    `?lot=DEMO-001&state=queued&state=testing` selects the same rows in /admin/ as in /api/. The admin's own
    sidebar filters (`state__exact`, …) keep working beside them. A value the filter set refuses shows as an error
    and lists nothing, as the API answers 400: never every row."""

    filterset_class = None

    def changelist_view(self, request, extra_context=None):
        names = set(self.filterset_class.base_filters) if self.filterset_class else set()
        params = request.GET.copy()
        taken = QueryDict(mutable=True)
        for name in [key for key in params if key in names]:
            taken.setlist(name, params.pop(name))
        request.GET = params  # the admin refuses parameters it does not know
        request.filterset_data = taken
        if taken:
            shown = ", ".join(f"{key}={'|'.join(taken.getlist(key))}" for key in taken)
            messages.info(request, f"API filters: {shown}")
        return super().changelist_view(request, extra_context)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        data = getattr(request, "filterset_data", None)
        if not data:
            return queryset
        filterset = self.filterset_class(data, queryset=queryset, request=request)
        if not filterset.is_valid():
            if not getattr(request, "filterset_refused", False):  # the list asks more than once
                request.filterset_refused = True
                problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in filterset.errors.items())
                messages.error(request, f"Filter not applied, nothing listed: {problems}")
            return queryset.none()
        return filterset.qs
