import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("sift")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Redis goes through our subclass of kombu's transport: with the stock one a Celery 5.7
# worker exits when Redis restarts while a task runs (config/broker_transport.py says why).
REDIS_TRANSPORT = "config.broker_transport:Transport"


@app.on_after_configure.connect
def _use_sift_redis_transport(sender: Celery, **kwargs: object) -> None:
    if sender.conf.broker_url and sender.conf.broker_url.startswith(("redis://", "rediss://")):
        sender.conf.broker_transport = REDIS_TRANSPORT
