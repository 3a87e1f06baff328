"""Routes of the registry and configuration API (/api/...)."""

urlpatterns: list = []
