from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Program data as its own app (no models: its tables are dispatch's), so that wiring its
    signals does not make dispatch import the apps built on it."""

    name = "dispatch.reports"
    label = "reports"
    verbose_name = "Program data"

    def ready(self):
        from dispatch.reports import signals

        signals.connect()
