"""Drop what serving.recent keeps as soon as this process changes it."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from learners.models import ModelVersion
from learners.signals import model_activated
from serving import recent
from serving.models import ServiceToken, ServingSettings


@receiver(model_activated, sender=ModelVersion)
def forget_active_model(sender: type, project_id: int, **kwargs: object) -> None:
    recent.active_models.drop(project_id)


@receiver([post_save, post_delete], sender=ServingSettings)
def forget_serving_settings(sender: type, instance: ServingSettings, **kwargs: object) -> None:
    recent.serving_settings.drop(instance.project_id)


@receiver([post_save, post_delete], sender=ServiceToken)
def forget_service_token(sender: type, instance: ServiceToken, **kwargs: object) -> None:
    recent.tokens.drop(instance.key_hash)
