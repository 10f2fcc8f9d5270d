"""Drop what serving.recent keeps as soon as this process changes it."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from learners.models import ModelVersion
from learners.signals import model_activated
from serving import recent
from serving.models import ServiceToken, ServingSettings, ServingSwitch


@receiver(model_activated, sender=ModelVersion)
def forget_active_model(sender: type, project_id: int, **kwargs: object) -> None:
    recent.active_models.drop(project_id)


@receiver(model_activated, sender=ModelVersion)
def record_activation(sender: type, project_id: int, **kwargs: object) -> None:
    """Every switch is recorded; a promoted canary or shadow is no longer a candidate."""
    active = (
        ModelVersion.objects.filter(project_id=project_id, is_active=True)
        .values_list("pk", flat=True)
        .first()
    )
    ServingSwitch.objects.create(
        project_id=project_id, kind=ServingSwitch.Kind.ACTIVATED, model_ref=str(active)
    )
    config = ServingSettings.objects.filter(project_id=project_id).first()
    if config is None:
        return
    if config.canary_model_id == active:
        config.canary_model, config.canary_share = None, 0.0
    if config.shadow_model_id == active:
        config.shadow_model = None
    config.save()


@receiver([post_save, post_delete], sender=ServingSettings)
def forget_serving_settings(sender: type, instance: ServingSettings, **kwargs: object) -> None:
    recent.serving_settings.drop(instance.project_id)


@receiver([post_save, post_delete], sender=ServiceToken)
def forget_service_token(sender: type, instance: ServiceToken, **kwargs: object) -> None:
    recent.tokens.drop(instance.key_hash)
