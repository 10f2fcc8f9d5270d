"""How the OpenAPI schema names service tokens (loaded by serving.apps)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ServiceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "serving.auth.ServiceTokenAuthentication"
    name = "serviceTokenAuth"
    priority = 1

    def get_security_requirement(self, auto_schema):
        # Listed only where a service token is accepted: predict and feedback.
        if getattr(auto_schema.view, "accepts_service_tokens", False):
            return {self.name: []}
        return None

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A project's service token, `Token svc_...`: predict and feedback only.",
        }
