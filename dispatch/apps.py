from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = "Dispatch"

    def ready(self):
        from django.db.models.signals import post_migrate

        from dispatch.services import roles_ensure

        post_migrate.connect(lambda **kwargs: roles_ensure(), sender=self, weak=False)
