// The mobile e-ID login's waiting page: while the request is pending, ask the portal every
// 2 seconds (same origin, this browser's session) and go on to the Continue link when it is
// approved, denied, expired or gone. Without JavaScript the Continue button does the same.
(function () {
  "use strict";
  var box = document.querySelector("[data-oob-status-url]");
  if (!box || !window.fetch) { return; }
  var statusUrl = box.getAttribute("data-oob-status-url");
  var nextUrl = box.getAttribute("data-oob-continue-url");
  var interval = 2000;
  function check() {
    fetch(statusUrl, {credentials: "same-origin", cache: "no-store",
                      headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : {status: "pending"}; })
      .then(function (body) {
        if (body && body.status && body.status !== "pending") {
          window.location.assign(nextUrl);
        } else {
          window.setTimeout(check, interval);
        }
      })
      .catch(function () { window.setTimeout(check, interval); });
  }
  window.setTimeout(check, interval);
}());
