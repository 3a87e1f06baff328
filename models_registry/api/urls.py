"""Routes of the registry and configuration API (/api/...)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from models_registry.api import views

router = SimpleRouter()
router.register("config/providers", views.ProviderViewSet, basename="provider")
router.register("config/models", views.ProviderModelViewSet, basename="providermodel")

urlpatterns = [
    path("model-registry", views.ModelRegistryView.as_view(), name="model-registry"),
    path("config/presets/", views.PresetsView.as_view(), name="presets"),
    path("config/defaults/", views.DefaultsView.as_view(), name="defaults"),
    *router.urls,
]
