from django.apps import AppConfig


class ServingAppConfig(AppConfig):
    name = "serving"
    verbose_name = "Serving"

    def ready(self) -> None:
        from serving import schema  # noqa: F401  (registers the schema's service-token scheme)
