"""Routes of the OpenAI-compatible API (/v1/...)."""

urlpatterns: list = []
