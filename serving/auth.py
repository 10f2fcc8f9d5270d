"""Service tokens on the API: accepted only by the views that say so (predict, feedback).

`Authorization: Token svc_...`. A service token sent to any other endpoint is refused with
a 403 that says what such a token may do, so it cannot list items or export labels.
"""

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from labeling.throttling import BadTokenThrottle, _RateFromSettings
from serving import recent
from serving.models import TOKEN_PREFIX, ServiceToken, hash_token

SCOPE_REFUSED = "A service token can only predict and send feedback; use a person's token for anything else."


class ServiceTokenAuthentication(TokenAuthentication):
    """Resolves `Token svc_...` to (AnonymousUser, ServiceToken); other tokens go to the next class."""

    def authenticate(self, request: Request):
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower().encode():
            return None
        try:
            key = parts[1].decode()
        except UnicodeError:
            return None
        if not key.startswith(TOKEN_PREFIX):
            return None
        token = _live_token(hash_token(key))
        if token is None:
            throttle = BadTokenThrottle()
            if not throttle.allow_request(request, None):
                raise exceptions.Throttled(wait=throttle.wait())
            raise exceptions.AuthenticationFailed("Invalid or revoked service token.")
        view = (getattr(request, "parser_context", None) or {}).get("view")
        if not getattr(view, "accepts_service_tokens", False):
            raise exceptions.PermissionDenied(SCOPE_REFUSED)
        # At most one write a minute per token: enough to show "last used" on the page.
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ServiceToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now  # the kept copy too, so the next requests skip the write
        return AnonymousUser(), token


def _live_token(key_hash: str) -> ServiceToken | None:
    """The unrevoked token with this hash, kept a few seconds per process (serving.recent)."""
    token = recent.tokens.get_or_read(key_hash, lambda: _read_token(key_hash))
    if token is None:
        recent.tokens.drop(key_hash)  # unknown keys are not kept: nothing to gain, memory to lose
    return token


def _read_token(key_hash: str) -> ServiceToken | None:
    return (
        ServiceToken.objects.select_related("project")
        .filter(key_hash=key_hash, revoked_at__isnull=True)
        .first()
    )


def service_token(request: Request) -> ServiceToken | None:
    return request.auth if isinstance(request.auth, ServiceToken) else None


class ServiceTokenOrPerson(BasePermission):
    """A valid service token, or a signed-in person (the view checks the project)."""

    def has_permission(self, request: Request, view: object) -> bool:
        return service_token(request) is not None or bool(request.user and request.user.is_authenticated)


class ServingThrottle(_RateFromSettings, SimpleRateThrottle):
    """Predictions per service token (or per person), at SIFT_API_SERVICE_RATE."""

    scope = "service"

    def get_cache_key(self, request: Request, view: object) -> str:
        token = service_token(request)
        ident = f"token-{token.pk}" if token else f"user-{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
