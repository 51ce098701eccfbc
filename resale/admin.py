"""Listings in the admin: read-only for now; the reseller's bulk actions come with the rest of resale (issue 13)."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import ListedUnit, Listing


class ListedUnitInline(admin.TabularInline):
    model = ListedUnit
    fields = ["unit"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Listing)
class ListingAdmin(ReadOnlyAdmin):
    list_display = ["id", "channel", "status", "title", "price", "currency", "published_at", "ended_at"]
    list_filter = ["channel", "status"]
    search_fields = ["title", "external_id", "items__unit__asset_tag"]
    inlines = [ListedUnitInline]
