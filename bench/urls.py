"""The product's routes plus bare reference views under /bench/ (see bench/views.py)."""

from django.urls import path

from bench import views
from configsite.urls import urlpatterns as product_urlpatterns

urlpatterns = [
    path("bench/bare-json", views.bare_json),
    path("bench/bare-bytes", views.bare_bytes),
    path("bench/bare-tiny", views.bare_tiny),
    path("bench/passthrough", views.passthrough),
    *product_urlpatterns,
]
