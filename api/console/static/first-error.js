// A refused form comes back with the keyboard focus on its first refused field (aria-invalid), so that a person
// with only a keyboard corrects it at once rather than tabbing there through the navigation. A page that
// focuses something itself (autofocus: a confirmation's safe choice) keeps it. Search pages focus nothing on arrival:
// a focused search box pops a phone's keyboard over the results; the keyboard reaches it first after "Skip to content".
(function () {
  "use strict";
  function focusFirstError() {
    if (document.querySelector("main [autofocus]")) return;
    var refused = document.querySelector("main form [aria-invalid='true']");
    if (refused) refused.focus();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", focusFirstError);
  else focusFirstError();
})();
