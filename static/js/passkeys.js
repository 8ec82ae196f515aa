// Passkeys (W3C Web Authentication Level 2): registration on "My passkeys"; assertions for the
// login page (first factor), the second login step after a password and the step-up page. Same-origin script (the Content-Security-Policy allows no inline script). The pages work
// without it: the passkey controls stay hidden and a note says that JavaScript is needed.
(function () {
  "use strict";

  function b64urlToBuffer(value) {
    var b64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }

  function bufferToB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // The portal's own refusals carry a translated text; the browser's errors (DOMException) are
  // in the browser's language and wording, so the page shows its own text for them.
  function portalError(message) {
    var error = new Error(message);
    error.portal = true;
    return error;
  }

  function explain(form, error) {
    if (error && error.portal && error.message) { return error.message; }
    if (error && error.name === "NotAllowedError") { return form.dataset.cancelled; }
    if (error && error.name === "InvalidStateError" && form.dataset.duplicate) {
      return form.dataset.duplicate;
    }
    return form.dataset.failed;
  }

  function post(form, url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken(form)},
      body: body === undefined ? "{}" : JSON.stringify(body)
    }).then(function (response) {
      // A login page instead of JSON (the session ended meanwhile) reads as a plain failure.
      return response.json().catch(function () {
        throw portalError(form.dataset.failed);
      }).then(function (data) {
        if (!response.ok) { throw portalError(data.detail || form.dataset.failed); }
        return data;
      });
    });
  }

  function show(form, message) {
    var status = form.querySelector("[data-passkey-status]");
    if (status) { status.textContent = message; status.hidden = false; }
  }

  function credentialJSON(credential, withAttestation) {
    var response = credential.response;
    var out = {id: credential.id, rawId: bufferToB64url(credential.rawId), type: credential.type,
               clientExtensionResults: credential.getClientExtensionResults(), response: {
                 clientDataJSON: bufferToB64url(response.clientDataJSON)}};
    if (withAttestation) {
      out.response.attestationObject = bufferToB64url(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = bufferToB64url(response.authenticatorData);
      out.response.signature = bufferToB64url(response.signature);
      if (response.userHandle) { out.response.userHandle = bufferToB64url(response.userHandle); }
    }
    if (credential.authenticatorAttachment) {
      out.authenticatorAttachment = credential.authenticatorAttachment;
    }
    return out;
  }

  function register(form) {
    var name = form.querySelector("input[name=name]");
    post(form, form.dataset.optionsUrl).then(function (options) {
      options.challenge = b64urlToBuffer(options.challenge);
      options.user.id = b64urlToBuffer(options.user.id);
      (options.excludeCredentials || []).forEach(function (item) { item.id = b64urlToBuffer(item.id); });
      return navigator.credentials.create({publicKey: options});
    }).then(function (credential) {
      return post(form, form.dataset.submitUrl,
                  {name: name ? name.value : "", credential: credentialJSON(credential, true)});
    }).then(function (data) {
      window.location.assign(data.redirect);
    }).catch(function (error) {
      show(form, explain(form, error));
    });
  }

  function field(form, name) {
    var input = form.querySelector("input[name=" + name + "]");
    return input ? input.value : "";
  }

  function logIn(form) {
    post(form, form.dataset.optionsUrl).then(function (options) {
      options.challenge = b64urlToBuffer(options.challenge);
      (options.allowCredentials || []).forEach(function (item) { item.id = b64urlToBuffer(item.id); });
      return navigator.credentials.get({publicKey: options});
    }).then(function (credential) {
      return post(form, form.dataset.submitUrl,
                  {next: field(form, "next") || "/", purpose: field(form, "purpose"),
                   credential: credentialJSON(credential, false)});
    }).then(function (data) {
      window.location.assign(data.redirect);
    }).catch(function (error) {
      show(form, explain(form, error));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.PublicKeyCredential || !navigator.credentials) { return; }
    document.querySelectorAll("[data-passkey-unsupported]").forEach(function (note) {
      note.hidden = true;
    });
    document.querySelectorAll("form[data-passkey]").forEach(function (form) {
      form.hidden = false;
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        if (form.dataset.passkey === "register") { register(form); } else { logIn(form); }
      });
    });
  });
}());
