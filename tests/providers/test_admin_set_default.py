"""The "Set as default" button on a model's admin page (providers/admin/set_default.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from providers.models import ProviderModel
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def models():
    provider = factories.make_provider(slug="acme")
    return factories.make_model(provider, model_id="one", is_default=True), factories.make_model(
        provider, model_id="two"
    )


def url(model: ProviderModel) -> str:
    return f"/admin/providers/providermodel/{model.pk}/set-default/"


def test_button_shown_on_a_model_that_is_not_the_default(admin_client, models):
    default, other = models
    page = admin_client.get(f"/admin/providers/providermodel/{other.pk}/change/").content.decode()
    assert f'action="{url(other)}"' in page and "Set as default" in page
    page = admin_client.get(f"/admin/providers/providermodel/{default.pk}/change/").content.decode()
    assert "Set as default</button>" not in page


def test_post_makes_it_the_default(admin_client, models):
    default, other = models
    response = admin_client.post(url(other), follow=True)
    assert response.redirect_chain[-1][0] == f"/admin/providers/providermodel/{other.pk}/change/"
    assert "Default model set: acme/two." in response.content.decode()
    assert list(ProviderModel.objects.filter(is_default=True)) == [other]


def test_a_model_that_cannot_be_default_is_refused_with_a_message(admin_client, models):
    default, other = models
    ProviderModel.objects.filter(pk=other.pk).update(is_enabled=False)
    response = admin_client.post(url(other), follow=True)
    assert "Not set as default: acme/two is disabled; enable it first." in response.content.decode()
    assert list(ProviderModel.objects.filter(is_default=True)) == [default]


def test_get_is_refused(admin_client, models):
    assert admin_client.get(url(models[1])).status_code == 405
    assert ProviderModel.objects.get(is_default=True) == models[0]


def test_csrf_token_required(models):
    client = Client(enforce_csrf_checks=True)
    client.force_login(factories.make_user(staff=True))
    assert client.post(url(models[1])).status_code == 403
    assert ProviderModel.objects.get(is_default=True) == models[0]


def test_change_permission_required(client, models):
    user = factories.make_user()
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="view_providermodel"))
    client.force_login(user)
    assert (
        "Set as default</button>"
        not in client.get(f"/admin/providers/providermodel/{models[1].pk}/change/").content.decode()
    )
    assert client.post(url(models[1])).status_code == 403
    assert ProviderModel.objects.get(is_default=True) == models[0]


def test_unknown_model(admin_client):
    assert admin_client.post("/admin/providers/providermodel/999999/set-default/").status_code == 404
