/*
 * ModelDesk gateway client helpers for the playground (no dependencies, no build step):
 * reading the Server-Sent Events of POST /v1/chat/completions, and saying the gateway's
 * errors in plain words. Exposed as window.ModelDeskGateway; playground.js uses them.
 */
(function () {
  "use strict";

  // Upstream failures arrive with OpenAI's error `type` of their category (SPEC §6); what the
  // gateway refuses itself is an `invalid_request_error` (or `permission_error`) with its own code.
  function friendlyError(status, error, provider, modelName, retryAfter) {
    var who = provider || "The provider";
    var type = (error && error.type) || "";
    var code = (error && error.code) || "";
    var message = (error && error.message) || "";
    var upstream = /upstream provider/i.test(message);
    var title;
    if (type === "authentication_error") {
      title = upstream ? who + " rejected the configured API key." : who + " has no usable API key: set one in the admin.";
    } else if (type === "permission_error" && upstream) {
      title = who + " does not let the configured API key use this model.";
    } else if (type === "not_found_error") {
      title = who + " does not know the model " + modelName + ".";
    } else if (type === "rate_limit_error") {
      title = who + " is rate limiting requests." + (retryAfter ? " Try again in " + retryAfter + " s." : " Try again shortly.");
    } else if (type === "timeout_error") {
      title = who + " did not answer in time.";
    } else if (type === "api_connection_error") {
      title = "Could not reach " + who + ". Check its base URL in the admin.";
    } else if (code === "context_length_exceeded" || (type === "invalid_request_error" && /context/i.test(message) && upstream)) {
      title = "The conversation is too long for this model. Start a new chat or shorten it.";
    } else if (type === "invalid_request_error" && upstream) {
      title = who + " rejected the request.";
    } else if (type === "api_error" && status !== 500) {
      title = who + " is failing or overloaded right now. Try again shortly.";
    } else if (code === "csrf_failed") {
      title = "This page's security token is out of date. Reload the page and send again.";
    } else if (status === 401) {
      title = "Your session has ended. Reload the page and log in again.";
    } else if (status === 403) {
      title = "You are not allowed to chat through the gateway.";
    } else if (code === "model_not_found") {
      title = "The gateway does not serve this model any more. Reload the page.";
    } else if (status === 0) {
      title = "The gateway could not be reached. Check your connection.";
    } else if (status >= 500) {
      title = "The gateway failed (HTTP " + status + ").";
    } else {
      title = "The gateway refused the request.";
    }
    return {title: title, detail: message};
  }

  // Reads an SSE body and calls onData with each `data:` payload; resolves to whether `[DONE]` came.
  function readEvents(body, onData) {
    var reader = body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    var done = false;

    function handleBlock(block) {
      var data = [];
      block.split("\n").forEach(function (line) {
        if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
      });
      if (!data.length) return;
      var payload = data.join("\n");
      if (payload === "[DONE]") {
        done = true;
        return;
      }
      try {
        onData(JSON.parse(payload));
      } catch (err) {
        if (err instanceof SyntaxError) return;  // a frame that is not JSON carries nothing for us
        throw err;
      }
    }

    function pump() {
      return reader.read().then(function (result) {
        if (result.done) {
          buffer += decoder.decode();
          if (buffer.trim()) handleBlock(buffer.replace(/\r/g, ""));
          return done;
        }
        buffer += decoder.decode(result.value, {stream: true}).replace(/\r/g, "");
        var cut;
        while (!done && (cut = buffer.indexOf("\n\n")) !== -1) {
          handleBlock(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
        if (done) return reader.cancel().then(function () { return true; });
        return pump();
      });
    }
    return pump();
  }

  window.ModelDeskGateway = {friendlyError: friendlyError, readEvents: readEvents};
})();
