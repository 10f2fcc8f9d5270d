"""Rate limits: DRF throttles for the API, and django-axes' backend for page logins.

The throttles read their rate when they run, not at import (DRF's own classes copy the
rates once at import, so a changed setting never reaches them).
"""

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


class _RateFromSettings:
    scope: str

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonThrottle(_RateFromSettings, AnonRateThrottle):
    """Requests without credentials, per client address."""


class UserThrottle(_RateFromSettings, UserRateThrottle):
    """Requests of one signed-in user or token, wherever they come from."""


class BadTokenThrottle(_RateFromSettings, SimpleRateThrottle):
    """Wrong tokens, per client address: guessing tokens is refused before it gets far."""

    scope = "bad_token"

    def get_cache_key(self, request: Request, view: object) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ThrottledTokenAuthentication(TokenAuthentication):
    """Token auth whose failures count against BadTokenThrottle.

    DRF checks throttles only after authentication succeeds, so without this a wrong
    token is a 401 forever, at any rate.
    """

    def authenticate(self, request: Request):
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            throttle = BadTokenThrottle()
            if not throttle.allow_request(request, None):
                raise exceptions.Throttled(wait=throttle.wait()) from None
            raise


class WebLoginThrottleBackend(AxesStandaloneBackend):
    """Axes' lockout check for logins that come from a web request.

    A login without a request (the test client, a shell, a management command) is not
    reachable by an attacker; axes would refuse it outright, so it is left to the next
    backend unchecked.
    """

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
