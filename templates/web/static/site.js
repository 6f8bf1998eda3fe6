// Progressive enhancement only: every form works without this file.
(function () {
  "use strict";
  // Prefill the time zone from the browser when the form has no choice of the reader's yet.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    document.querySelectorAll('[name="timezone"][data-prefill="yes"]').forEach(function (el) {
      if (zone) { el.value = zone; }
    });
  } catch (e) { /* keep UTC */ }

  // A filter box over the category checkboxes.
  var filter = document.getElementById("category-filter");
  if (filter) {
    filter.parentElement.hidden = false;
    filter.addEventListener("input", function () {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      document.querySelectorAll(".categories details.group").forEach(function (group) {
        var shown = 0;
        group.querySelectorAll("li").forEach(function (item) {
          var text = item.textContent.toLowerCase();
          var match = words.every(function (w) { return text.indexOf(w) !== -1; });
          item.hidden = !match;
          if (match) { shown += 1; }
        });
        group.hidden = shown === 0;
        if (words.length) { group.open = shown > 0; }
      });
    });
  }
})();
