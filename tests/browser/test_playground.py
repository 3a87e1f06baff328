"""The chat playground (/chat/) in headless Chromium, against the live ASGI server and the fake upstream."""

from __future__ import annotations

import json

import pytest

from providers import services
from providers.models import Provider
from tests import factories
from tests.browser.conftest import PASSWORD, PHONE, orm
from tests.fake_upstream import behaviour as fb

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff_user():
    return factories.make_user("operator", staff=True, password=PASSWORD)


@pytest.fixture
def echo_setup(staff_user):
    """An offline echo provider with a default model and a second model."""
    echo = factories.make_provider(name="Echo", slug="echo", kind="echo", api_key="")
    default = factories.make_model(
        echo, model_id="echo-1", name="Echo One", alias="e1", capabilities={"tools": True}, is_default=True
    )
    factories.make_model(echo, model_id="echo-2", name="Echo Two")
    return default


def test_playground_needs_a_staff_login(staff_user, browser):
    browser.goto("/chat/")
    assert "/admin/login/" in browser.page.url
    assert "next=/chat/" in browser.page.url
    browser.page.get_by_label("Username").fill("operator")
    browser.page.get_by_label("Password").fill(PASSWORD)
    browser.page.get_by_role("button", name="Log in").click()
    browser.page.wait_for_url(browser.base_url + "/chat/")
    assert browser.page.get_by_role("heading", name="ModelDesk Chat playground").is_visible()
    browser.assert_no_js_errors()


def test_default_model_is_preselected_and_an_answer_streams(echo_setup, browser):
    page = browser.page
    browser.login("operator")  # through the admin's login form
    browser.goto("/chat/")
    picker = page.get_by_label("Model", exact=True)
    page.wait_for_function("document.getElementById('model').value !== ''")
    assert picker.input_value() == "echo/echo-1"
    assert page.locator("#model-badges li").all_inner_texts() == ["Echo", "alias e1", "tools", "default"]
    assert page.locator("#model optgroup").first.get_attribute("label") == "Echo"
    assert page.locator("#thinking-field").is_hidden()  # echo-1 declares no thinking

    page.get_by_label("Message", exact=True).fill("hello there streaming world")
    page.get_by_role("button", name="Send").click()
    answer = page.locator(".message-assistant .message-content").last
    answer.wait_for()
    page.wait_for_function("document.querySelector('.message-assistant[aria-busy=\"false\"]') !== null", timeout=10_000)
    assert "hello there streaming world" in answer.inner_text()
    assert page.locator("#status").inner_text() == "Done."
    browser.screenshot("playground-desktop")
    assert_phone_layout(browser, "playground-360")
    browser.assert_no_js_errors()


def assert_phone_layout(browser, name: str) -> None:
    """Reload at 360 px: settings folded, nothing wider than the screen; screenshots of both."""
    page = browser.page
    browser.resize(PHONE)
    page.reload()
    page.wait_for_function("document.getElementById('model').value !== ''")
    assert page.locator("#settings").get_attribute("open") is None
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.locator(".message").last.scroll_into_view_if_needed()
    browser.screenshot(name, full_page=False)
    page.locator(".settings-summary").click()
    browser.screenshot(name + "-settings", full_page=False)


@pytest.fixture
def upstream_setup(staff_user, fake_upstream):
    """An OpenAI-kind and an Anthropic-kind provider, both pointed at the fake upstream (no retries)."""
    openai = factories.make_provider(
        name="OpenAI", slug="openai", kind="openai", base_url=fake_upstream.url + "/v1", max_retries=0
    )
    anthropic = factories.make_provider(
        name="Anthropic", slug="anthropic", kind="anthropic", base_url=fake_upstream.url, max_retries=0
    )
    factories.make_model(
        openai,
        model_id="gpt-4o-mini",
        name="GPT-4o mini",
        alias="4o-mini",
        capabilities={"vision": True, "tools": True},
    )
    factories.make_model(
        anthropic,
        model_id="claude-sonnet-4-6",
        name="Claude Sonnet 4.6",
        capabilities={"vision": True, "tools": True, "thinking": "budget"},
        max_output_tokens=64000,
        is_default=True,
    )
    return fake_upstream


def open_playground(browser) -> None:
    browser.login_with_session("operator")
    browser.goto("/chat/")
    browser.page.wait_for_function("document.getElementById('model').value !== ''")


def send(browser, text: str) -> None:
    browser.page.get_by_label("Message", exact=True).fill(text)
    browser.page.get_by_role("button", name="Send").click()


def wait_answered(browser) -> None:
    browser.page.locator(".message-assistant").last.wait_for()
    browser.page.wait_for_function(
        "(() => { const m = [...document.querySelectorAll('.message-assistant')].pop();"
        " return m && m.getAttribute('aria-busy') === 'false'; })()"
    )


def test_answer_streams_in_token_by_token(upstream_setup, browser):
    words = " ".join(f"word{i}" for i in range(30))
    upstream_setup.set_behaviour("gpt-4o-mini", fb.answer(words, chunk_delay=0.05))
    open_playground(browser)
    page = browser.page
    page.get_by_label("Model", exact=True).select_option("openai/gpt-4o-mini")
    send(browser, "Count for me")
    answer = page.locator(".message-assistant .message-content").last
    # Part of the answer is on screen while the stream is still open.
    page.wait_for_function(
        "(() => { const m = document.querySelector('.message-assistant');"
        " const t = m.querySelector('.message-content').textContent;"
        " return m.getAttribute('aria-busy') === 'true' && t.includes('word3') && !t.includes('word29'); })()"
    )
    assert page.get_by_role("button", name="Stop").is_visible()
    wait_answered(browser)
    assert answer.inner_text() == words
    assert page.get_by_role("button", name="Stop").is_hidden()
    assert "in /" in page.locator(".message-meta").last.inner_text()  # usage arrived
    request = upstream_setup.last_request
    assert request.stream and request.json["messages"][-1] == {"role": "user", "content": "Count for me"}
    browser.assert_no_js_errors()


def test_anthropic_thinking_shows_a_reasoning_block(upstream_setup, browser):
    open_playground(browser)
    page = browser.page
    assert page.get_by_label("Model", exact=True).input_value() == "anthropic/claude-sonnet-4-6"
    thinking = page.get_by_label("Think before answering")
    assert thinking.is_visible()
    thinking.check()
    page.get_by_label("Thinking budget (tokens)").fill("2048")
    send(browser, "Why is the sky blue?")
    wait_answered(browser)
    reasoning = page.locator(".message-assistant .reasoning").last
    assert reasoning.is_visible()
    assert reasoning.locator("summary").inner_text() == "Reasoning"
    assert "step by step" in reasoning.locator(".reasoning-text").inner_text()
    browser.screenshot("playground-thinking-desktop")
    assert page.locator(".message-assistant .message-content").last.inner_text().startswith("Hello from")
    sent = upstream_setup.last_request.json
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    # Collapsible: a click on the summary folds it.
    reasoning.locator("summary").click()
    assert reasoning.locator(".reasoning-text").is_hidden()

    # Thinking off is sent explicitly, so defaults cannot turn it back on.
    thinking.uncheck()
    send(browser, "And the sunset?")
    wait_answered(browser)
    assert "thinking" not in upstream_setup.last_request.json
    assert page.locator(".message-assistant").last.locator(".reasoning").is_hidden()
    browser.assert_no_js_errors()


def test_upstream_rate_limit_reads_as_plain_words(upstream_setup, browser):
    upstream_setup.set_behaviour("claude-sonnet-4-6", fb.error(429, retry_after=30))
    browser.console.expected_http_errors.add(429)
    open_playground(browser)
    send(browser, "hello")
    wait_answered(browser)
    error = browser.page.locator(".message-assistant .message-error").last
    assert error.get_by_text("Anthropic is rate limiting requests. Try again in 30 s.").is_visible()
    assert browser.page.get_by_role("alert").count() == 1
    browser.screenshot("playground-error-desktop")
    assert_phone_layout(browser, "playground-error-360")
    browser.assert_no_js_errors()


def test_rejected_key_reads_as_plain_words(upstream_setup, browser):
    upstream_setup.api_key = "sk-the-right-key"
    browser.console.expected_http_errors.add(401)
    open_playground(browser)
    send(browser, "hello")
    wait_answered(browser)
    error = browser.page.locator(".message-assistant .message-error").last
    assert error.locator(".error-title").inner_text() == "Anthropic rejected the configured API key."
    browser.assert_no_js_errors()


def test_stop_cancels_the_upstream_request(upstream_setup, browser):
    words = " ".join(f"w{i}" for i in range(200))
    upstream_setup.set_behaviour("claude-sonnet-4-6", fb.answer(words, chunk_delay=0.1))
    open_playground(browser)
    page = browser.page
    send(browser, "Tell me a long story")
    page.wait_for_function("document.querySelector('.message-assistant .message-content').textContent.includes('w2')")
    page.get_by_role("button", name="Stop").click()
    wait_answered(browser)
    assert upstream_setup.last_request.wait_disconnected(timeout=5), "the upstream request was not cancelled"
    assert page.locator("#status").inner_text() == "Stopped."
    assert "Stopped" in page.locator(".message-meta").last.inner_text()
    assert "w199" not in page.locator(".message-content").last.inner_text()
    assert page.get_by_role("button", name="Send").is_enabled()
    browser.assert_no_js_errors()


def test_keyboard_only_use(upstream_setup, browser):
    words = " ".join(f"k{i}" for i in range(200))
    upstream_setup.set_behaviour("claude-sonnet-4-6", fb.answer(words, chunk_delay=0.1))
    open_playground(browser)
    page = browser.page
    prompt = page.get_by_label("Message", exact=True)
    assert page.evaluate("document.activeElement.id") == "prompt"  # focused on load
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    assert prompt.input_value() == "first line\nsecond line"
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('.message-assistant .message-content').textContent.includes('k2')")
    assert page.locator(".message-user .message-content").last.inner_text() == "first line\nsecond line"
    page.keyboard.press("Escape")
    wait_answered(browser)
    assert upstream_setup.last_request.wait_disconnected(timeout=5)
    assert "Stopped" in page.locator(".message-meta").last.inner_text()

    # Every control has a label.
    unlabelled = page.evaluate(
        """[...document.querySelectorAll('input, select, textarea, button')]
        .filter(e => !e.closest('[hidden]'))
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
        .map(e => e.id || e.name || e.outerHTML)"""
    )
    assert unlabelled == []
    browser.assert_no_js_errors()


def test_conversation_is_kept_for_the_tab_until_new_chat(echo_setup, browser):
    open_playground(browser)
    page = browser.page
    send(browser, "remember me")
    wait_answered(browser)
    page.reload()
    page.wait_for_function("document.getElementById('model').value !== ''")
    assert page.locator(".message-user .message-content").inner_text() == "remember me"
    assert "remember me" in page.locator(".message-assistant .message-content").inner_text()
    page.get_by_role("button", name="New chat").click()
    assert page.locator(".message").count() == 0
    assert page.get_by_text("Pick a model and send a message.").is_visible()
    page.reload()
    assert page.locator(".message").count() == 0
    browser.assert_no_js_errors()


def test_settings_reach_the_upstream_and_tool_calls_read_well(upstream_setup, asgi_live_server, browser):
    logo = asgi_live_server.url + "/static/chat/favicon.svg"
    orm(lambda: services.provider_update(provider=Provider.objects.get(slug="openai"), image_url=logo))
    upstream_setup.set_behaviour(
        "gpt-4o-mini", fb.answer("", tool_calls=[fb.tool_call("get_weather", {"city": "Paris", "unit": "celsius"})])
    )
    open_playground(browser)
    page = browser.page
    page.get_by_label("Model", exact=True).select_option("openai/gpt-4o-mini")
    assert page.locator("#provider-logo img").get_attribute("src") == logo
    page.wait_for_function(
        "(() => { const i = document.querySelector('#provider-logo img'); return i.complete && i.naturalWidth > 0; })()"
    )
    assert page.locator("#thinking-field").is_hidden()  # gpt-4o-mini declares no thinking
    assert page.get_by_label("Preset").locator("option").all_inner_texts() == [
        "None (generation defaults)",
        "Fast",
        "Balanced",
        "Powerful",
    ]
    page.get_by_label("Preset").select_option("fast")
    assert page.get_by_label("Temperature").get_attribute("placeholder") == "0.3"
    page.get_by_label("Temperature").fill("0.5")
    page.get_by_label("Max tokens").fill("300")
    page.get_by_label("System prompt").fill("Answer briefly.")
    page.get_by_text("Tools", exact=True).click()
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    page.get_by_label("Tool definitions (JSON list, OpenAI format)").fill(json.dumps(tools))
    send(browser, "Weather in Paris?")
    wait_answered(browser)

    sent = upstream_setup.last_request.json
    assert sent["temperature"] == 0.5 and sent["max_completion_tokens"] == 300
    assert sent["messages"][0] == {"role": "system", "content": "Answer briefly."}
    assert sent["tools"] == tools
    call = page.locator(".message-assistant .tool-call").last
    assert call.locator(".tool-call-name").inner_text() == "get_weather"
    assert json.loads(call.locator(".tool-call-args").inner_text()) == {"city": "Paris", "unit": "celsius"}
    assert "\n  " in call.locator(".tool-call-args").inner_text()  # pretty-printed
    assert "finish: tool_calls" in page.locator(".message-meta").last.inner_text()
    browser.screenshot("playground-tool-call-desktop")

    # The settings are kept for the tab, like the conversation.
    page.reload()
    page.wait_for_function("document.getElementById('model').value !== ''")
    assert page.get_by_label("Model", exact=True).input_value() == "openai/gpt-4o-mini"
    assert page.get_by_label("Preset").input_value() == "fast"
    assert page.get_by_label("System prompt").input_value() == "Answer briefly."
    browser.assert_no_js_errors()


def test_invalid_tools_json_is_refused_before_sending(echo_setup, browser):
    open_playground(browser)
    page = browser.page
    page.get_by_text("Tools", exact=True).click()
    page.get_by_label("Tool definitions (JSON list, OpenAI format)").fill("[{not json")
    send(browser, "hello")
    assert page.locator("#status").inner_text().startswith("The tool definitions are not valid JSON")
    assert page.locator(".message").count() == 0
    assert page.get_by_label("Message", exact=True).input_value() == "hello"  # nothing lost
    browser.assert_no_js_errors()


def test_an_error_mid_stream_keeps_the_partial_answer(upstream_setup, browser):
    words = " ".join(f"part{i}" for i in range(20))
    upstream_setup.set_behaviour("claude-sonnet-4-6", fb.cut(6, stream_error=True, text=words))
    open_playground(browser)
    page = browser.page
    send(browser, "Go on")
    wait_answered(browser)
    message = page.locator(".message-assistant").last
    assert message.locator(".message-content").inner_text().startswith("part0")
    assert "part19" not in message.locator(".message-content").inner_text()
    title = message.locator(".error-title").inner_text()
    assert title == "Anthropic is failing or overloaded right now. Try again shortly."
    assert "sent an error mid-stream" in message.locator(".error-detail").inner_text()
    assert page.locator("#status").inner_text() == "The answer failed."
    browser.assert_no_js_errors()


def test_a_stale_csrf_token_asks_for_a_reload(echo_setup, browser):
    browser.console.expected_http_errors.add(403)
    open_playground(browser)
    browser.context.clear_cookies(name="csrftoken")  # as when the cookie expired or was rotated elsewhere
    send(browser, "hello")
    wait_answered(browser)
    title = browser.page.locator(".message-assistant .error-title").last.inner_text()
    assert title == "This page's security token is out of date. Reload the page and send again."
    browser.assert_no_js_errors()
