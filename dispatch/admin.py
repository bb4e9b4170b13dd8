from django.contrib import admin

from dispatch.models import (
    ApiClient,
    Assignment,
    CallType,
    Event,
    Incident,
    IncidentChange,
    ScreeningQuestion,
    Unit,
)


@admin.register(CallType)
class CallTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "eligible", "apco_code"]
    list_filter = ["eligible"]


@admin.register(ScreeningQuestion)
class ScreeningQuestionAdmin(admin.ModelAdmin):
    list_display = ["key", "prompt"]


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ["name", "role", "key_prefix", "is_active", "created_at"]
    readonly_fields = ["key_hash", "key_prefix", "user"]


class IncidentChangeInline(admin.TabularInline):
    model = IncidentChange
    extra = 0
    readonly_fields = ["kind", "actor", "at", "changes"]
    can_delete = False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["call_type_code", "source", "status", "eligible", "received_at", "address"]
    list_filter = ["status", "source", "eligible"]
    search_fields = ["external_id", "address", "call_type_code"]
    inlines = [IncidentChangeInline]


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ["callsign", "status", "status_changed_at"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["unit", "incident", "status", "dispatched_at", "acknowledged_at"]
    list_filter = ["status"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "at", "unit"]
    list_filter = ["type"]
