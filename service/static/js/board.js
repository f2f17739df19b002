// The status board refreshes itself: it reads its JSON every data-interval seconds and redraws counts and rows.
(function () {
  "use strict";
  var board = document.getElementById("status-board");
  if (!board) { return; }
  var seconds = parseInt(board.getAttribute("data-interval"), 10) || 10;
  function text(value) { return value === null || value === undefined ? "–" : String(value); }
  function local(iso) { return iso ? new Date(iso).toLocaleString() : "–"; }
  function redraw(data) {
    Object.keys(data.counts).forEach(function (state) {
      var cell = board.querySelector('[data-count="' + state + '"]');
      if (cell) { cell.textContent = data.counts[state]; }
    });
    var body = board.querySelector("tbody");
    body.textContent = "";
    data.rows.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-unit", row.unit);
      tr.setAttribute("data-state", row.state);
      [row.unit, row.state_text, local(row.due_at), local(row.completed_at), text(row.completed_by)]
        .forEach(function (value, index) {
          var td = document.createElement("td");
          td.textContent = value;
          if (index === 1) { td.className = "board-state board-state--" + row.state; }
          tr.appendChild(td);
        });
      body.appendChild(tr);
    });
    var updated = board.querySelector("[data-updated]");
    if (updated) { updated.textContent = local(data.at); updated.setAttribute("datetime", data.at); }
    board.setAttribute("data-refreshed", data.at);
  }
  function poll() {
    fetch(board.getAttribute("data-source"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { redraw(data); } })
      .catch(function () { /* try again at the next tick */ });
  }
  window.setInterval(poll, seconds * 1000);
})();
