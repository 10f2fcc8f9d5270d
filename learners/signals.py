"""Signals learners sends, for the apps built on it (serving) that learners must not import."""

from django.dispatch import Signal

# Another model became a project's active one (learners.lifecycle.activate): project_id.
model_activated = Signal()
