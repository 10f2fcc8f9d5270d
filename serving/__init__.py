"""Serving: the prediction API with its safeguards, the prediction log, feedback and monitoring."""
