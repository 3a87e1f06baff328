"""The admin in headless Chromium: dashboard, a provider with models inline, its buttons, the default."""

from __future__ import annotations

import pytest

from providers.models import Provider, ProviderModel
from tests import factories
from tests.browser.conftest import PASSWORD, PHONE, orm
from tests.fake_upstream import behaviour as fb

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def operator():
    return factories.make_user("operator", staff=True, password=PASSWORD)


def message_texts(page) -> list[str]:
    return page.locator("ul.messagelist li").all_inner_texts()


@pytest.fixture
def providers(operator):
    echo = factories.make_provider(name="Echo", slug="echo", kind="echo", api_key="")
    factories.make_model(echo, model_id="echo-1", name="Echo One", is_default=True)
    factories.make_provider(name="Anthropic", slug="anthropic", kind="anthropic", api_key="", is_enabled=False)


def test_dashboard_on_the_admin_index(providers, browser):
    page = browser.page
    browser.login("operator")
    assert page.title() == "Site administration | ModelDesk admin"
    assert page.locator("#site-name").inner_text() == "ModelDesk"
    assert page.locator("#user-tools").get_by_role("link", name="Chat playground").get_attribute("href") == "/chat/"
    block = page.locator(".md-dashboard")
    assert block.get_by_role("heading", name="ModelDesk status").is_visible()
    providers_card = block.locator(".md-card").nth(0).inner_text()
    assert "1 active" in providers_card and "1 inactive" in providers_card
    assert "Echo One" in block.locator(".md-card").nth(1).inner_text()
    assert block.get_by_role("row", name="Anthropic").get_by_text("Inactive: disabled").is_visible()
    browser.screenshot("admin-dashboard-desktop")
    browser.resize(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    browser.screenshot("admin-dashboard-360")
    block.get_by_role("link", name="Open the chat playground").click()
    page.wait_for_url(browser.base_url + "/chat/")
    browser.assert_no_js_errors()


def test_provider_with_models_inline_tools_default_and_playground(operator, fake_upstream, browser):
    page = browser.page
    browser.login("operator")

    # Add a provider and two models inline.
    browser.goto("/admin/providers/provider/add/")
    page.locator("#id_name").fill("Fake OpenAI")
    page.locator("#id_slug").fill("fake-openai")
    page.locator("#id_kind").select_option("openai")
    page.locator("#id_base_url").fill(fake_upstream.url + "/v1")
    page.locator("#id_api_key").fill("sk-browser-test-0001")
    page.locator("#id_max_retries").fill("0")
    page.locator("input[name='models-0-name']").fill("GPT-4o mini")
    page.locator("input[name='models-0-model_id']").fill("gpt-4o-mini")
    page.get_by_text("Add another Model").click()
    page.locator("input[name='models-1-name']").fill("GPT-4o")
    page.locator("input[name='models-1-model_id']").fill("gpt-4o")
    page.get_by_role("button", name="Save and continue editing").click()
    page.wait_for_selector("ul.messagelist")
    assert any("was added successfully" in text for text in message_texts(page)), message_texts(page)
    models = orm(lambda: sorted(ProviderModel.objects.filter(provider__slug="fake-openai").values_list("model_id")))
    assert models == [("gpt-4o",), ("gpt-4o-mini",)]
    assert "sk-browser-test-0001" not in page.content()  # the key is write-only

    # Test the connection (a POST button on the provider's page).
    page.get_by_role("button", name="Test connection").click()
    page.wait_for_selector("ul.messagelist")
    assert any(t.startswith("Fake OpenAI: connection OK") for t in message_texts(page)), message_texts(page)
    assert fake_upstream.last_request.headers["authorization"] == "Bearer sk-browser-test-0001"

    # Discover models: the upstream lists two more.
    page.get_by_role("button", name="Discover models").click()
    page.wait_for_selector("ul.messagelist")
    discovered = " ".join(message_texts(page))
    assert discovered.startswith("Fake OpenAI:"), discovered
    found = orm(
        lambda: set(ProviderModel.objects.filter(provider__slug="fake-openai").values_list("model_id", flat=True))
    )
    assert found == {"gpt-4o-mini", "gpt-4o", "o3-mini", "gpt-retired"}
    browser.screenshot("admin-provider-after-discovery")

    # Set a default from the model's page.
    gpt_4o = orm(lambda: ProviderModel.objects.get(provider__slug="fake-openai", model_id="gpt-4o").pk)
    browser.goto(f"/admin/providers/providermodel/{gpt_4o}/change/")
    page.get_by_role("button", name="Set as default").click()
    page.wait_for_selector("ul.messagelist")
    assert "Default model set: fake-openai/gpt-4o." in message_texts(page)
    assert orm(lambda: ProviderModel.objects.get(is_default=True).pk) == gpt_4o
    browser.screenshot("admin-model-default")

    # The playground preselects the new default.
    browser.goto("/chat/")
    page.wait_for_function("document.getElementById('model').value !== ''")
    assert page.get_by_label("Model", exact=True).input_value() == "fake-openai/gpt-4o"
    assert orm(lambda: Provider.objects.get(slug="fake-openai").kind) == "openai"
    browser.assert_no_js_errors()


def test_playground_traffic_shows_on_the_dashboard_and_in_the_summary(providers, fake_upstream, browser):
    from chat import request_log

    def add_openai() -> None:
        openai = factories.make_provider(
            name="OpenAI", slug="openai", kind="openai", base_url=fake_upstream.url + "/v1", max_retries=0
        )
        factories.make_model(openai, model_id="gpt-4o-mini", name="GPT-4o mini", input_price_per_mtok="0.15")

    orm(add_openai)
    fake_upstream.enqueue(fb.error(429), model="gpt-4o-mini")
    browser.console.expected_http_errors.add(429)
    page = browser.page
    browser.login("operator")
    browser.goto("/chat/")
    page.wait_for_function("document.getElementById('model').value !== ''")
    for answered, model in enumerate(["echo/echo-1", "openai/gpt-4o-mini", "openai/gpt-4o-mini"], start=1):
        page.get_by_label("Model", exact=True).select_option(model)
        page.get_by_label("Message", exact=True).fill(f"message {answered}")
        page.keyboard.press("Enter")
        page.wait_for_function(
            f"document.querySelectorAll('.message-assistant[aria-busy=\"false\"]').length === {answered}"
        )
    request_log.flush()

    browser.goto("/admin/")
    last_24h = page.locator(".md-card").nth(2).inner_text()
    assert "3 requests" in " ".join(last_24h.split()) and "1 error (33 %)" in last_24h, last_24h
    page.get_by_role("link", name="Summary by model").click()
    table = page.locator("table.md-summary")
    rows = {r.locator("th").inner_text(): r.locator("td").all_inner_texts() for r in table.locator("tbody tr").all()}
    assert set(rows) == {"openai/gpt-4o-mini", "echo/echo-1"}
    assert rows["openai/gpt-4o-mini"][:3] == ["2", "1", "50.0 %"]
    assert rows["echo/echo-1"][:3] == ["1", "0", "0.0 %"]
    assert rows["openai/gpt-4o-mini"][-1].startswith("$")  # priced model: a cost
    browser.screenshot("admin-request-log-summary")
    page.get_by_role("link", name="openai/gpt-4o-mini").click()
    page.locator("#result_list").wait_for()
    assert page.locator("#result_list tbody tr").count() == 2  # the request log, filtered to that model
    browser.assert_no_js_errors()
