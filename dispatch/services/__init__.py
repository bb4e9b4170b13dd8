"""Changes to dispatch state, by concern. Each service writes, records history and events, and
says what it refuses; views, API views and consumers call these and never write models
directly. The names are gathered here so callers write `services.assignment_create`."""

from dispatch.services.accounts import ROLE_PERMISSIONS, api_client_create, roles_ensure
from dispatch.services.administration import (
    unit_create,
    unit_rename,
    unit_retire,
    unit_set_in_service,
    user_create,
    user_deactivate,
    user_reactivate,
    user_set_password,
    user_update,
)
from dispatch.services.alerts import alert_acknowledge, alert_create, alert_raise, alerts_raise_overdue
from dispatch.services.assignments import (
    assignment_acknowledge,
    assignment_acknowledge_event,
    assignment_create,
    assignment_for_update,
    assignment_set_status,
    assignment_step,
)
from dispatch.services.audit import audit_record
from dispatch.services.clinician import incident_transfer_to_clinician, phone_contact_record
from dispatch.services.conflicts import ServiceConflict, ServiceInvalid
from dispatch.services.incidents import (
    IncidentFields,
    Place,
    address_geocode,
    fields_placed,
    incident_cancel,
    incident_close,
    incident_create,
    incident_geocode,
    incident_link_duplicate,
    incident_upsert_from_api,
    incident_upsert_from_eido,
    transfer_close,
)
from dispatch.services.payloads import (
    alert_event_data,
    assignment_event_data,
    incident_event_data,
    unit_event_data,
)
from dispatch.services.program_admin import program_create, program_update
from dispatch.services.screening_standard import (
    call_type_save,
    program_call_type_set,
    program_question_set,
    screening_question_save,
)
from dispatch.services.shifts import shift_end, shift_start, shift_unit_require
from dispatch.services.units import unit_announce, unit_report_location, unit_set_status
from dispatch.services.webhooks import (
    webhook_deliveries_due,
    webhook_deliveries_record,
    webhook_deliveries_send,
    webhook_delivery_retry,
    webhook_subscribe,
    webhook_unsubscribe,
)

__all__ = [
    "ROLE_PERMISSIONS",
    "IncidentFields",
    "Place",
    "ServiceConflict",
    "ServiceInvalid",
    "address_geocode",
    "alert_acknowledge",
    "alert_create",
    "alert_event_data",
    "alert_raise",
    "alerts_raise_overdue",
    "api_client_create",
    "assignment_acknowledge",
    "assignment_acknowledge_event",
    "assignment_create",
    "assignment_event_data",
    "assignment_for_update",
    "assignment_set_status",
    "assignment_step",
    "audit_record",
    "call_type_save",
    "fields_placed",
    "incident_cancel",
    "incident_close",
    "incident_create",
    "incident_event_data",
    "incident_geocode",
    "incident_link_duplicate",
    "incident_transfer_to_clinician",
    "incident_upsert_from_api",
    "incident_upsert_from_eido",
    "phone_contact_record",
    "program_call_type_set",
    "program_create",
    "program_question_set",
    "program_update",
    "roles_ensure",
    "screening_question_save",
    "shift_end",
    "shift_start",
    "shift_unit_require",
    "transfer_close",
    "unit_announce",
    "unit_event_data",
    "unit_create",
    "unit_rename",
    "unit_report_location",
    "unit_retire",
    "unit_set_in_service",
    "unit_set_status",
    "user_create",
    "user_deactivate",
    "user_reactivate",
    "user_set_password",
    "user_update",
    "webhook_deliveries_due",
    "webhook_deliveries_record",
    "webhook_deliveries_send",
    "webhook_delivery_retry",
    "webhook_subscribe",
    "webhook_unsubscribe",
]
