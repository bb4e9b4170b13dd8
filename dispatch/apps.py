from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = "Dispatch"

    def ready(self):
        from django.db.models.signals import post_migrate

        from dispatch.events import events_recorded
        from dispatch.services import roles_ensure, webhook_deliveries_record

        post_migrate.connect(lambda **kwargs: roles_ensure(), sender=self, weak=False)
        # Every recorded event owes its webhook deliveries, written in the event's transaction.
        events_recorded.connect(webhook_deliveries_record, dispatch_uid="webhook_deliveries")
