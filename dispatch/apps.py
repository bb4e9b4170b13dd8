from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = "Dispatch"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in, user_logged_out
        from django.db.models.signals import m2m_changed, post_migrate, post_save

        from dispatch import session_guard
        from dispatch.events import events_recorded
        from dispatch.middleware import note_sign_in
        from dispatch.services import roles_ensure, webhook_deliveries_record

        user_model = get_user_model()
        user_logged_in.connect(note_sign_in, dispatch_uid="session_note_sign_in")
        user_logged_out.connect(session_guard.on_user_logged_out, dispatch_uid="session_signed_out")
        post_save.connect(session_guard.on_user_saved, sender=user_model, dispatch_uid="session_user_saved")
        m2m_changed.connect(
            session_guard.on_groups_changed, sender=user_model.groups.through, dispatch_uid="session_groups"
        )
        post_migrate.connect(lambda **kwargs: roles_ensure(), sender=self, weak=False)
        # Every recorded event owes its webhook deliveries, written in the event's transaction.
        events_recorded.connect(webhook_deliveries_record, dispatch_uid="webhook_deliveries")
