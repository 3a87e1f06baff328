"""Routes of the OpenAI-compatible API (/v1/...)."""

from django.urls import path

from chat import models_view, views

urlpatterns = [
    path("chat/completions", views.chat_completions, name="v1-chat-completions"),
    path("models", models_view.list_models, name="v1-models"),
    path("models/<path:model>", models_view.retrieve_model, name="v1-model"),
]
