/*
 * ModelDesk chat playground: a small, dependency-free client of the gateway.
 *
 * Models come from GET /api/model-registry, presets from GET /api/config/presets/,
 * answers stream from POST /v1/chat/completions (Server-Sent Events in OpenAI's
 * chunk format) — the same API every other client uses. The conversation lives in
 * sessionStorage, so it survives a reload of this tab and nothing else.
 */
(function () {
  "use strict";

  var STORAGE_KEY = "modeldesk.playground.v1";

  var gateway = window.ModelDeskGateway;
  var friendlyError = gateway.friendlyError;
  var readEvents = gateway.readEvents;
  var endpoints = JSON.parse(document.getElementById("playground-endpoints").textContent);
  var csrfToken = document.querySelector('meta[name="csrf-token"]').getAttribute("content");

  var el = {};
  ["settings", "settings-current", "settings-form", "model", "model-badges", "provider-logo", "preset",
    "preset-hint", "temperature", "max-tokens", "thinking-field", "thinking", "thinking-budget-field",
    "thinking-budget", "thinking-effort-field", "thinking-effort", "system-prompt", "tools", "messages",
    "empty-state", "composer", "prompt", "send", "stop", "status", "new-chat"].forEach(function (id) {
    el[id] = document.getElementById(id);
  });

  var state = loadState();
  var models = {};        // qualified id → {model, provider}
  var presets = {};       // name → settings
  var registryDefault = null;
  var running = null;     // {controller, item} while an answer streams

  // --- storage ------------------------------------------------------------------

  function loadState() {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(STORAGE_KEY) || "null");
      if (saved && Array.isArray(saved.items)) {
        saved.settings = saved.settings || {};
        return saved;
      }
    } catch (err) {
      // A corrupt or unavailable store starts a fresh conversation.
    }
    return {items: [], settings: {}};
  }

  function saveState() {
    try {
      window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(state));
    } catch (err) {
      // Storage full or disabled: the conversation still works, it just is not kept.
    }
  }

  function readSettings() {
    state.settings = {
      model: el.model.value,
      preset: el.preset.value,
      temperature: el.temperature.value,
      maxTokens: el["max-tokens"].value,
      thinking: el.thinking.checked,
      thinkingBudget: el["thinking-budget"].value,
      effort: el["thinking-effort"].value,
      system: el["system-prompt"].value,
      tools: el.tools.value
    };
    saveState();
  }

  function restoreSettings() {
    var s = state.settings;
    el.temperature.value = s.temperature || "";
    el["max-tokens"].value = s.maxTokens || "";
    el.thinking.checked = !!s.thinking;
    el["thinking-budget"].value = s.thinkingBudget || "";
    el["thinking-effort"].value = s.effort || "";
    el["system-prompt"].value = s.system || "";
    el.tools.value = s.tools || "";
  }

  // --- small DOM helpers ----------------------------------------------------------

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function setStatus(text) {
    el.status.textContent = text || "";
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}}).then(function (r) {
      if (!r.ok) throw new Error(url + " answered HTTP " + r.status);
      return r.json();
    });
  }

  // --- models, presets ---------------------------------------------------------------

  function thinkingMode(caps) {
    var t = caps && caps.thinking;
    if (t === "adaptive") return "adaptive";
    if (t === "budget" || t === true) return "budget";
    return null;
  }

  function capabilityNames(caps) {
    var names = [];
    if (caps && caps.vision) names.push("vision");
    if (caps && caps.tools) names.push("tools");
    if (thinkingMode(caps)) names.push("thinking");
    return names;
  }

  function modelLabel(model) {
    var label = model.name || model.model_id;
    if (model.alias) label += " (" + model.alias + ")";
    var caps = capabilityNames(model.capabilities);
    if (caps.length) label += " · " + caps.join(", ");
    return model.is_default ? "★ " + label : label;
  }

  function fillModels(registry) {
    registryDefault = registry.default_model || null;
    el.model.textContent = "";
    models = {};
    (registry.providers || []).forEach(function (provider) {
      if (!provider.models || !provider.models.length) return;
      var group = make("optgroup");
      group.label = provider.name;
      // Staff also see inactive providers, with the reason: listed, not selectable.
      var inactive = provider.is_active === false;
      if (inactive) {
        group.label += " — inactive: " + (provider.inactive_reason || "unavailable");
        group.disabled = true;
      }
      provider.models.forEach(function (model) {
        if (!inactive) models[model.qualified_id] = {model: model, provider: provider};
        var option = make("option", null, modelLabel(model));
        option.value = model.qualified_id;
        group.appendChild(option);
      });
      el.model.appendChild(group);
    });
    if (!Object.keys(models).length) {
      var none = make("option", null, "No active models: add a provider in the admin");
      none.value = "";
      el.model.appendChild(none);
      el.model.disabled = true;
      return;
    }
    el.model.disabled = false;
    var wanted = state.settings.model;
    if (!models[wanted]) wanted = registryDefault && models[registryDefault] ? registryDefault : Object.keys(models)[0];
    el.model.value = wanted;
    onModelChange(false);
  }

  function normalizePresets(data) {
    // Accept {name: settings}, {"presets": …} or [{name, …settings}] shapes.
    var source = data && data.presets ? data.presets : data;
    var result = {};
    if (Array.isArray(source)) {
      source.forEach(function (p) {
        if (p && p.name) result[p.name] = p.settings || p.values || p;
      });
    } else if (source && typeof source === "object") {
      Object.keys(source).forEach(function (name) { result[name] = source[name] || {}; });
    }
    return result;
  }

  function fillPresets(data) {
    presets = normalizePresets(data);
    Object.keys(presets).forEach(function (name) {
      var option = make("option", null, name.charAt(0).toUpperCase() + name.slice(1));
      option.value = name;
      el.preset.appendChild(option);
    });
    if (presets[state.settings.preset]) el.preset.value = state.settings.preset;
    onPresetChange(false);
  }

  function presetValue(preset, snake, camel) {
    if (!preset) return undefined;
    return preset[snake] !== undefined ? preset[snake] : preset[camel];
  }

  function onPresetChange(save) {
    var preset = presets[el.preset.value];
    var temperature = presetValue(preset, "temperature", "temperature");
    var maxTokens = presetValue(preset, "max_tokens", "maxTokens");
    var budget = presetValue(preset, "thinking_budget_tokens", "thinkingBudgetTokens");
    el.temperature.placeholder = temperature !== undefined && temperature !== null ? String(temperature) : "default";
    el["max-tokens"].placeholder = maxTokens ? String(maxTokens) : "default";
    el["thinking-budget"].placeholder = budget ? String(budget) : "default";
    var parts = [];
    if (temperature !== undefined && temperature !== null) parts.push("temperature " + temperature);
    if (maxTokens) parts.push("max " + maxTokens + " tokens");
    if (budget) parts.push("thinking budget " + budget);
    el["preset-hint"].textContent = preset ? "Preset: " + (parts.join(", ") || "no values") + ". Fields you fill win." : "";
    if (save) readSettings();
  }

  function logoFor(provider) {
    var box = el["provider-logo"];
    box.textContent = "";
    box.title = provider ? provider.name : "";
    if (!provider) return;
    if (provider.image_url) {
      var img = make("img");
      img.src = provider.image_url;
      img.alt = "";
      img.width = 28;
      img.height = 28;
      img.addEventListener("error", function () { box.textContent = provider.name.charAt(0).toUpperCase(); });
      box.appendChild(img);
    } else {
      box.textContent = provider.name.charAt(0).toUpperCase();
    }
  }

  function onModelChange(save) {
    var entry = models[el.model.value];
    var caps = entry ? entry.model.capabilities || {} : {};
    logoFor(entry && entry.provider);
    el["model-badges"].textContent = "";
    if (entry) {
      var provider = make("li", "badge badge-provider", entry.provider.name);
      el["model-badges"].appendChild(provider);
      if (entry.model.alias) el["model-badges"].appendChild(make("li", "badge badge-alias", "alias " + entry.model.alias));
      capabilityNames(caps).forEach(function (name) {
        el["model-badges"].appendChild(make("li", "badge badge-" + name, name));
      });
      if (entry.model.is_default) el["model-badges"].appendChild(make("li", "badge badge-default", "default"));
    }
    var mode = thinkingMode(caps);
    el["thinking-field"].hidden = !mode;
    el["thinking-budget-field"].hidden = mode !== "budget" || !el.thinking.checked;
    el["thinking-effort-field"].hidden = mode !== "adaptive" || !el.thinking.checked;
    el["settings-current"].textContent = entry ? "· " + (entry.model.name || entry.model.model_id) : "";
    if (save) readSettings();
  }

  // --- conversation rendering --------------------------------------------------------------

  var views = new WeakMap();

  function renderAll() {
    el.messages.textContent = "";
    state.items.forEach(function (item) { el.messages.appendChild(renderItem(item)); });
    el["empty-state"].hidden = state.items.length > 0;
  }

  function renderItem(item) {
    var li = make("li", "message message-" + item.role);
    var head = make("div", "message-head");
    head.appendChild(make("span", "message-role", item.role === "user" ? "You" : item.modelName || "Assistant"));
    li.appendChild(head);
    var view = {li: li};
    if (item.role === "assistant") {
      view.reasoning = make("details", "reasoning");
      view.reasoning.appendChild(make("summary", null, "Reasoning"));
      view.reasoningText = make("div", "reasoning-text", item.reasoning || "");
      view.reasoning.appendChild(view.reasoningText);
      view.reasoning.hidden = !item.reasoning;
      li.appendChild(view.reasoning);
    }
    view.content = make("div", "message-content", item.content || "");
    li.appendChild(view.content);
    if (item.role === "assistant") {
      view.tools = make("div", "tool-calls");
      li.appendChild(view.tools);
      renderToolCalls(item, view);
      view.error = make("div", "message-error");
      view.error.setAttribute("role", "alert");
      li.appendChild(view.error);
      renderError(item, view);
      view.meta = make("p", "message-meta");
      li.appendChild(view.meta);
      renderMeta(item, view);
    }
    views.set(item, view);
    return li;
  }

  function renderToolCalls(item, view) {
    view.tools.textContent = "";
    (item.toolCalls || []).forEach(function (call) {
      var box = make("div", "tool-call");
      var title = make("p", "tool-call-title");
      title.appendChild(make("span", "tool-call-label", "Tool call "));
      title.appendChild(make("code", "tool-call-name", call.name || "(unnamed)"));
      box.appendChild(title);
      var args = call.arguments || "";
      try { args = JSON.stringify(JSON.parse(args), null, 2); } catch (err) { /* still streaming or not JSON */ }
      box.appendChild(make("pre", "tool-call-args", args));
      view.tools.appendChild(box);
    });
  }

  function renderError(item, view) {
    view.error.textContent = "";
    view.error.hidden = !item.error;
    if (!item.error) return;
    view.error.appendChild(make("strong", "error-title", item.error.title));
    if (item.error.detail) view.error.appendChild(make("span", "error-detail", item.error.detail));
  }

  function renderMeta(item, view) {
    var parts = [];
    if (item.streaming) parts.push("Answering…");
    if (item.stopped) parts.push("Stopped");
    if (item.finishReason && item.finishReason !== "stop") parts.push("finish: " + item.finishReason);
    if (item.usage) parts.push(item.usage.prompt_tokens + " in / " + item.usage.completion_tokens + " out tokens");
    if (item.elapsedMs) parts.push((item.elapsedMs / 1000).toFixed(1) + " s");
    view.meta.textContent = parts.join(" · ");
    view.li.setAttribute("aria-busy", item.streaming ? "true" : "false");
  }

  function scrollToEnd() {
    var last = el.messages.lastElementChild;
    if (last) last.scrollIntoView({block: "end"});
  }

  // --- sending and streaming -----------------------------------------------------------------

  function historyMessages() {
    var messages = [];
    var system = el["system-prompt"].value.trim();
    if (system) messages.push({role: "system", content: system});
    state.items.forEach(function (item) {
      if (item.role === "user") {
        messages.push({role: "user", content: item.content});
      } else if (!item.error || item.content) {
        // Tool calls are shown, not run: they go back as text so the history stays valid.
        var text = item.content || "";
        (item.toolCalls || []).forEach(function (call) {
          text += (text ? "\n" : "") + "[called tool " + call.name + " with " + (call.arguments || "{}") + "]";
        });
        if (text) messages.push({role: "assistant", content: text});
      }
    });
    return messages;
  }

  function buildRequest() {
    var body = {model: el.model.value, messages: historyMessages(), stream: true, stream_options: {include_usage: true}};
    if (el.preset.value) body.preset = el.preset.value;
    if (el.temperature.value !== "") body.temperature = Number(el.temperature.value);
    if (el["max-tokens"].value !== "") body.max_tokens = parseInt(el["max-tokens"].value, 10);
    var entry = models[el.model.value];
    var mode = entry && thinkingMode(entry.model.capabilities);
    if (mode && !el.thinking.checked) {
      // Explicitly off: generation defaults and presets may otherwise turn thinking on.
      body.thinking = {type: "disabled"};
    } else if (mode === "adaptive") {
      body.thinking = {type: "adaptive"};
      if (el["thinking-effort"].value) body.reasoning_effort = el["thinking-effort"].value;
    } else if (mode === "budget") {
      body.thinking = {type: "enabled"};
      if (el["thinking-budget"].value !== "") body.thinking.budget_tokens = parseInt(el["thinking-budget"].value, 10);
    }
    var tools = el.tools.value.trim();
    if (tools) body.tools = JSON.parse(tools);
    return body;
  }

  function send() {
    if (running) return;
    var text = el.prompt.value.trim();
    if (!text) {
      setStatus("Type a message first.");
      el.prompt.focus();
      return;
    }
    var entry = models[el.model.value];
    if (!entry) {
      setStatus("Pick a model first.");
      el.model.focus();
      return;
    }
    readSettings();
    var userItem = {role: "user", content: text};
    state.items.push(userItem);
    var body;
    try {
      body = buildRequest();
    } catch (err) {
      state.items.pop();
      setStatus("The tool definitions are not valid JSON: " + err.message);
      el.tools.focus();
      return;
    }
    var item = {
      role: "assistant", content: "", reasoning: "", toolCalls: [], streaming: true,
      model: entry.model.qualified_id, modelName: entry.model.name || entry.model.model_id
    };
    state.items.push(item);
    el.prompt.value = "";
    el.messages.appendChild(renderItem(userItem));
    el.messages.appendChild(renderItem(item));
    el["empty-state"].hidden = true;
    scrollToEnd();
    saveState();
    stream(body, item, entry);
  }

  function stream(body, item, entry) {
    var controller = new AbortController();
    var started = performance.now();
    running = {controller: controller, item: item};
    setBusy(true);
    setStatus("Waiting for " + entry.provider.name + "…");
    var view = views.get(item);

    fetch(endpoints.completions, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "text/event-stream", "X-CSRFToken": csrfToken},
      body: JSON.stringify(body),
      signal: controller.signal
    }).then(function (response) {
      if (!response.ok) {
        return response.text().then(function (raw) {
          var error = null;
          try { error = JSON.parse(raw).error; } catch (err) { error = {message: raw.slice(0, 300)}; }
          item.error = friendlyError(response.status, error, entry.provider.name, item.modelName,
            response.headers.get("Retry-After"));
        });
      }
      return readEvents(response.body, function (data) { applyChunk(item, view, data, entry); }).then(function (done) {
        if (!done && !item.error) {
          item.error = {title: "The answer was cut off: the connection closed before it was complete.", detail: ""};
        }
      });
    }).catch(function (err) {
      if (err && err.name === "AbortError") {
        item.stopped = true;
      } else {
        item.error = friendlyError(0, {message: String(err && err.message || err)}, entry.provider.name, item.modelName);
      }
    }).then(function () {
      item.streaming = false;
      item.elapsedMs = Math.round(performance.now() - started);
      renderError(item, view);
      renderMeta(item, view);
      running = null;
      setBusy(false);
      setStatus(item.error ? "The answer failed." : item.stopped ? "Stopped." : "Done.");
      saveState();
      scrollToEnd();
    });
  }

  function applyChunk(item, view, data, entry) {
    if (data.error) {
      item.error = friendlyError(200, data.error, entry.provider.name, item.modelName);
      renderError(item, view);
      return;
    }
    if (data.usage) item.usage = data.usage;
    var choice = data.choices && data.choices[0];
    if (!choice) return;
    var delta = choice.delta || {};
    var reasoning = delta.reasoning_content || delta.reasoning;
    if (reasoning) {
      if (!item.reasoning) {
        view.reasoning.hidden = false;
        view.reasoning.open = true;
      }
      item.reasoning += reasoning;
      view.reasoningText.appendChild(document.createTextNode(reasoning));
    }
    if (delta.content) {
      if (!item.content) setStatus(entry.provider.name + " is answering…");
      item.content += delta.content;
      view.content.appendChild(document.createTextNode(delta.content));
    }
    if (delta.tool_calls) {
      delta.tool_calls.forEach(function (part) {
        var index = part.index || 0;
        var call = item.toolCalls[index] || (item.toolCalls[index] = {id: "", name: "", arguments: ""});
        if (part.id) call.id = part.id;
        if (part.function && part.function.name) call.name += part.function.name;
        if (part.function && part.function.arguments) call.arguments += part.function.arguments;
      });
      renderToolCalls(item, view);
    }
    if (choice.finish_reason) item.finishReason = choice.finish_reason;
    renderMeta(item, view);
    scrollToEnd();
  }

  function setBusy(busy) {
    el.send.disabled = busy;
    el.stop.hidden = !busy;
    el.composer.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function stop() {
    if (running) running.controller.abort();
  }

  function newChat() {
    stop();
    state.items = [];
    saveState();
    renderAll();
    setStatus("New chat.");
    el.prompt.focus();
  }

  // --- wiring -------------------------------------------------------------------------------

  function init() {
    restoreSettings();
    renderAll();
    var narrow = window.matchMedia && window.matchMedia("(max-width: 799px)").matches;
    if (narrow) el.settings.open = false;

    el.model.addEventListener("change", function () { onModelChange(true); });
    el.preset.addEventListener("change", function () { onPresetChange(true); });
    el.thinking.addEventListener("change", function () { onModelChange(true); });
    el["settings-form"].addEventListener("change", readSettings);
    el["settings-form"].addEventListener("submit", function (event) { event.preventDefault(); });
    el.composer.addEventListener("submit", function (event) {
      event.preventDefault();
      send();
    });
    el.prompt.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        send();
      }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && running) {
        event.preventDefault();
        stop();
      }
    });
    el.stop.addEventListener("click", stop);
    el["new-chat"].addEventListener("click", newChat);

    getJSON(endpoints.registry).then(fillModels).catch(function (err) {
      el.model.textContent = "";
      el.model.appendChild(make("option", null, "Models could not be loaded"));
      setStatus("The model list could not be loaded (" + err.message + "). Reload the page to try again.");
    });
    getJSON(endpoints.presets).then(fillPresets).catch(function () {
      el["preset-hint"].textContent = "Presets could not be loaded.";
    });
    // On a phone, focusing would pop the keyboard up over the page on every visit.
    if (!narrow) el.prompt.focus();
  }

  init();
})();
