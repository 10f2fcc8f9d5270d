from django.apps import AppConfig


class ServingAppConfig(AppConfig):
    name = "serving"
    verbose_name = "Serving"

    def ready(self) -> None:
        from serving import receivers, schema  # noqa: F401  (service-token scheme; signals)
