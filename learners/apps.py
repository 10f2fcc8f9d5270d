from django.apps import AppConfig


class LearnersConfig(AppConfig):
    name = "learners"

    def ready(self) -> None:
        from learners import checks, receivers  # noqa: F401  (connects signals, registers checks)
