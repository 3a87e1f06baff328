"""Routes of the chat playground (mounted at /chat/)."""

from django.urls import path

from chat.playground import playground

app_name = "playground"

urlpatterns = [
    path("", playground, name="index"),
]
