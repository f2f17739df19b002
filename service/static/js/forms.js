// Repeating rows of a form table: "add row" copies the last row with the next row number, "remove row"
// drops a row. Without JavaScript the page already offers one empty row more than the data.
(function () {
  "use strict";

  function renumber(row, index, table) {
    row.dataset.row = String(index);
    row.querySelectorAll("[name], [id], [for], [aria-describedby]").forEach(function (element) {
      ["name", "id", "for", "aria-describedby"].forEach(function (attribute) {
        var value = element.getAttribute(attribute);
        if (value === null) return;
        var dotted = table + ".";
        var dashed = "f-" + table.replace(/\./g, "-") + "-";
        value = value.split(dotted).map(function (part, position) {
          return position === 0 ? part : part.replace(/^[0-9]+/, String(index));
        }).join(dotted);
        value = value.split(dashed).map(function (part, position) {
          return position === 0 ? part : part.replace(/^[0-9]+/, String(index));
        }).join(dashed);
        element.setAttribute(attribute, value);
      });
    });
    row.querySelectorAll("label.visually-hidden").forEach(function (label) {
      label.textContent = label.textContent.replace(/[0-9]+\)$/, String(index + 1) + ")");
    });
  }

  function clear(row) {
    row.querySelectorAll("input, textarea, select").forEach(function (element) {
      if (element.tagName === "SELECT") element.selectedIndex = 0;
      else element.value = "";
      element.removeAttribute("aria-invalid");
    });
    row.querySelectorAll(".field__error").forEach(function (error) { error.remove(); });
  }

  function setUp(fieldset) {
    var table = fieldset.dataset.repeat;
    var body = fieldset.querySelector("tbody");
    var add = fieldset.querySelector("[data-add-row]");
    var max = parseInt(fieldset.dataset.maxRows || "0", 10);

    function refresh() {
      var rows = body.querySelectorAll("tr");
      rows.forEach(function (row, index) {
        renumber(row, index, table);
        row.querySelector("[data-remove-row]").hidden = rows.length <= 1;
      });
      add.hidden = max > 0 && rows.length >= max;
    }

    add.addEventListener("click", function () {
      var rows = body.querySelectorAll("tr");
      var copy = rows[rows.length - 1].cloneNode(true);
      clear(copy);
      body.appendChild(copy);
      refresh();
      var first = copy.querySelector("input, textarea, select");
      if (first) first.focus();
    });
    body.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-row]");
      if (!button || body.querySelectorAll("tr").length <= 1) return;
      button.closest("tr").remove();
      refresh();
      add.focus();
    });
    refresh();
  }

  function start() {
    document.querySelectorAll("[data-repeat]").forEach(setUp);
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
