// The case's BPMN diagram in the bpmn-js viewer: elements passed marked "passed", current tasks "waiting".
// The ids come in data attributes of #diagram (JSON); without JavaScript the page lists the steps taken.
(function () {
  "use strict";

  function ids(container, name) {
    try {
      var value = JSON.parse(container.getAttribute(name) || "[]");
      return Array.isArray(value) ? value : [];
    } catch (error) {
      return [];
    }
  }

  function show(container) {
    if (typeof window.BpmnJS !== "function") return;
    var viewer = new window.BpmnJS({ container: container });
    fetch(container.dataset.xmlUrl, { credentials: "same-origin", headers: { Accept: "application/xml" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var registry = viewer.get("elementRegistry");
        var canvas = viewer.get("canvas");
        function mark(list, marker) {
          list.forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, marker); });
        }
        mark(ids(container, "data-passed"), "passed");
        mark(ids(container, "data-waiting"), "waiting");
        canvas.zoom("fit-viewport", "auto");
        container.classList.add("diagram--ready");
        container.setAttribute("data-rendered", "true");
      })
      .catch(function () {
        container.textContent = container.dataset.error || "";
        container.classList.add("diagram--failed");
      });
  }

  function start() {
    var container = document.getElementById("diagram");
    if (container) show(container);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
