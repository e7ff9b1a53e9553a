// pvrelief web: the little script the page has. No framework, nothing loaded from elsewhere.
// - a form with data-confirm asks before it is sent (running an allocation);
// - a submit button is disabled once pressed, so a slow answer is not sent twice;
// - an element with data-refresh="SECONDS" reloads the page that often (the alarm list),
//   but not while the user is typing into a form on it.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  var buttons = form.querySelectorAll("button[type=submit]");
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].disabled = true;
  }
});
(function () {
  var holder = document.querySelector("[data-refresh]");
  if (!holder) return;
  var seconds = parseInt(holder.getAttribute("data-refresh"), 10);
  if (!(seconds >= 10)) return;
  window.setInterval(function () {
    var active = document.activeElement;
    var typing = active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA");
    if (!typing) window.location.reload();
  }, seconds * 1000);
})();
