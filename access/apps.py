from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Gateway API keys"

    def ready(self) -> None:
        from access import schema, signals  # noqa: F401  (schema: registers the OpenAPI auth extension)

        signals.connect()
