// The process owners' modeler (issue #18): the bpmn-js editor with amflow's own properties panel, validate /
// draft / deploy, the diff page's marked diagram, and the form editor's live preview. No build step: the
// vendored bpmn-js bundle is the global BpmnJS (the modeler on the editor page, the viewer on the diff page).
(function () {
  "use strict";

  var SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core";
  var TIMER_KINDS = ["timeDuration", "timeDate", "timeCycle"];

  function json(node, name, fallback) {
    try { return JSON.parse(node.getAttribute(name) || ""); } catch (error) { return fallback; }
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, status: response.status, data: data }; });
    });
  }

  function local(node) { return String(node.$type || "").split(":").pop(); }
  function isA(element, type) { return element.businessObject && element.businessObject.$type === type; }
  function say(text, kind) {
    var status = document.getElementById("modeler-status");
    status.textContent = text;
    status.className = kind ? "flash flash--" + kind : "";
  }
  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_all, name) { return values[name]; });
  }

  // --- the editor -----------------------------------------------------------------------------------------

  function editor(root) {
    var words = json(root, "data-words", {});
    var lanes = json(root, "data-lanes", {}) || {};
    var groups = json(root, "data-groups", []);
    var modeler = new window.BpmnJS({ container: document.getElementById("modeler-canvas") });
    var modeling = modeler.get("modeling");
    var moddle = modeler.get("moddle");
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    var overlays = modeler.get("overlays");
    var form = document.getElementById("panel-form");
    var current = null;
    var marked = [];

    function options(select, list) {
      list.forEach(function (item) {
        var option = document.createElement("option");
        option.value = Array.isArray(item) ? item[0] : item;
        option.textContent = Array.isArray(item) && item[1] && item[1] !== item[0] ? item[0] + " – " + item[1] : option.value;
        select.appendChild(option);
      });
    }
    options(document.getElementById("panel-group"), groups);
    options(document.getElementById("panel-form-name"), json(root, "data-forms", []));
    options(document.getElementById("panel-ruleset"), json(root, "data-rulesets", []));

    // spiffworkflow extension elements are kept by bpmn-js as generic elements: read and rebuild them
    function extension(bo) { return (bo.extensionElements && bo.extensionElements.values) || []; }
    function propertyList(bo) {
      var holder = extension(bo).filter(function (v) { return local(v) === "properties"; })[0];
      return holder ? (holder.$children || []).filter(function (c) { return local(c) === "property"; }) : [];
    }
    function property(bo, name) {
      var found = propertyList(bo).filter(function (p) { return p.name === name; })[0];
      return found && found.value ? found.value : "";
    }
    function decisionOf(bo) {
      var found = extension(bo).filter(function (v) { return local(v) === "calledDecisionId"; })[0];
      return found ? (found.$body || "").trim() : "";
    }
    function replaceExtension(element, kind, replacement) {
      var bo = element.businessObject;
      var values = extension(bo).filter(function (v) { return local(v) !== kind; });
      if (replacement) values.push(replacement);
      var ext = values.length ? moddle.create("bpmn:ExtensionElements", { values: values }) : undefined;
      modeling.updateProperties(element, { extensionElements: ext });
    }
    function setProperty(element, name, value) {
      var kept = propertyList(element.businessObject).filter(function (p) { return p.name !== name; });
      if (value) kept.push(moddle.createAny("spiffworkflow:property", SPIFF, { name: name, value: value }));
      replaceExtension(element, "properties",
        kept.length ? moddle.createAny("spiffworkflow:properties", SPIFF, { $children: kept }) : null);
    }
    function setDecision(element, value) {
      replaceExtension(element, "calledDecisionId",
        value ? moddle.createAny("spiffworkflow:calledDecisionId", SPIFF, { $body: value }) : null);
    }
    function timerOf(element) {
      var defs = element.businessObject.eventDefinitions || [];
      return defs.filter(function (d) { return d.$type === "bpmn:TimerEventDefinition"; })[0] || null;
    }
    function expression(value) { return value ? moddle.create("bpmn:FormalExpression", { body: value }) : undefined; }

    function show(kind, on) {
      form.querySelectorAll('[data-for="' + kind + '"]').forEach(function (node) { node.hidden = !on; });
    }
    function field(name) { return form.elements[name]; }

    function showPanel(element) {
      current = element && element.type !== "label" ? element : null;
      document.querySelector("[data-panel-empty]").hidden = !!current;
      form.hidden = !current;
      if (!current) return;
      var bo = current.businessObject;
      form.querySelector("[data-panel-type]").textContent = bo.$type.replace("bpmn:", "");
      form.querySelector("[data-panel-id]").textContent = bo.id;
      var timer = timerOf(current);
      show("lane", isA(current, "bpmn:Lane"));
      show("task", isA(current, "bpmn:UserTask"));
      show("rule", isA(current, "bpmn:BusinessRuleTask"));
      show("timer", !!timer);
      show("flow", isA(current, "bpmn:SequenceFlow"));
      field("name").value = bo.name || "";
      field("group").value = lanes[bo.name || ""] || "";
      field("form").value = property(bo, "form");
      ["dueAt", "dueIn", "dueInWorkingDays"].forEach(function (name) { field(name).value = property(bo, name); });
      field("ruleset").value = decisionOf(bo);
      if (timer) {
        var kind = TIMER_KINDS.filter(function (k) { return timer[k]; })[0] || "timeDuration";
        field("timerKind").value = kind;
        field("timer").value = timer[kind] ? timer[kind].body || "" : "";
      }
      field("condition").value = bo.conditionExpression ? bo.conditionExpression.body || "" : "";
    }

    function apply(name) {
      if (!current) return;
      var value = field(name).value.trim();
      var bo = current.businessObject;
      if (name === "name") {
        if (isA(current, "bpmn:Lane") && lanes[bo.name || ""] !== undefined) {
          lanes[value] = lanes[bo.name || ""];
          delete lanes[bo.name || ""];
        }
        modeling.updateLabel(current, value);
      } else if (name === "group") {
        if (value) lanes[bo.name || ""] = value; else delete lanes[bo.name || ""];
      } else if (name === "form" || name === "dueAt" || name === "dueIn" || name === "dueInWorkingDays") {
        setProperty(current, name, value);
      } else if (name === "ruleset") {
        setDecision(current, value);
      } else if (name === "timer" || name === "timerKind") {
        var timer = timerOf(current);
        var changes = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
        changes[field("timerKind").value] = expression(field("timer").value.trim());
        modeling.updateModdleProperties(current, timer, changes);
      } else if (name === "condition") {
        modeling.updateProperties(current, { conditionExpression: expression(value) });
      }
    }
    form.addEventListener("change", function (event) { if (event.target.name) apply(event.target.name); });
    form.addEventListener("submit", function (event) { event.preventDefault(); });

    modeler.on("selection.changed", function (event) { showPanel(event.newSelection[0]); });
    modeler.on("element.changed", function (event) {
      if (current && event.element === current && !form.contains(document.activeElement)) showPanel(current);
    });

    function xml() { return modeler.saveXML({ format: true }).then(function (result) { return result.xml; }); }
    function body(extra) {
      return xml().then(function (text) {
        var sent = { bpmn: text, lanes: lanes };
        Object.keys(extra || {}).forEach(function (key) { sent[key] = extra[key]; });
        return sent;
      });
    }

    function clearProblems() {
      overlays.remove({ type: "problem" });
      marked.forEach(function (id) { if (registry.get(id)) canvas.removeMarker(id, "has-problem"); });
      marked = [];
      ["modeler-problems", "modeler-lint", "modeler-lanes"].forEach(function (id) {
        document.getElementById(id).textContent = "";
      });
    }

    function listItem(list, problem, kind) {
      var item = document.createElement("li");
      item.className = "problem problem--" + kind;
      if (problem.element) item.setAttribute("data-element", problem.element);
      var shape = problem.element ? registry.get(problem.element) : null;
      var label = problem.element ? (shape && shape.businessObject.name ? shape.businessObject.name + " (" + problem.element + ")" : problem.element) : "";
      item.textContent = (label ? label + ": " : "") + problem.message;
      if (shape) {
        item.tabIndex = 0;
        item.addEventListener("click", function () { modeler.get("selection").select(shape); });
      }
      list.appendChild(item);
      if (!shape) return;
      if (marked.indexOf(problem.element) < 0 && kind === "error") {
        canvas.addMarker(problem.element, "has-problem");
        marked.push(problem.element);
      }
      var badge = document.createElement("span");
      badge.className = "problem-badge problem-badge--" + kind;
      badge.textContent = kind === "error" ? "!" : "i";
      badge.title = problem.message;
      badge.setAttribute("data-problem-element", problem.element);
      overlays.add(problem.element, "problem", { position: { top: -10, left: -10 }, html: badge });
    }

    function offerLanes(unknown) {
      var holder = document.getElementById("modeler-lanes");
      unknown.forEach(function (lane) {
        var row = document.createElement("div");
        row.className = "lane-offer";
        row.setAttribute("data-lane", lane);
        var text = document.createElement("p");
        text.textContent = fill(words.unknown_lane, { lane: lane });
        row.appendChild(text);
        var label = document.createElement("label");
        label.textContent = words.map_to + " ";
        var select = document.createElement("select");
        select.setAttribute("data-map-lane", lane);
        var empty = document.createElement("option");
        empty.value = "";
        empty.textContent = words.choose;
        select.appendChild(empty);
        options(select, groups);
        select.addEventListener("change", function () {
          if (select.value) { lanes[lane] = select.value; validate(); }
        });
        label.appendChild(select);
        row.appendChild(label);
        if (root.getAttribute("data-may-create-groups") === "true" && /^[a-z][a-z0-9_-]*$/.test(lane)) {
          var create = document.createElement("button");
          create.type = "button";
          create.className = "button button--small";
          create.setAttribute("data-create-group", lane);
          create.textContent = fill(words.create, { lane: lane });
          create.addEventListener("click", function () {
            post(root.getAttribute("data-group-url"), { code: lane, name: lane }).then(function (answer) {
              if (!answer.ok) { say(words.failed + " " + answer.data.error.message, "error"); return; }
              groups.push([answer.data.code, answer.data.name]);
              say(fill(words.created, { lane: lane }), "success");
              validate();
            });
          });
          row.appendChild(create);
        }
        holder.appendChild(row);
      });
    }

    function showProblems(problems, unknown, lint) {
      clearProblems();
      var list = document.getElementById("modeler-problems");
      problems.forEach(function (problem) { listItem(list, problem, "error"); });
      offerLanes(unknown || []);
      var advice = document.getElementById("modeler-lint");
      if (lint && lint.length) {
        var heading = document.createElement("li");
        heading.className = "modeler-lint__heading";
        heading.textContent = words.lint;
        advice.appendChild(heading);
        lint.forEach(function (item) {
          listItem(advice, { element: item.element, message: item.message + " (" + item.rule + ")" }, "lint");
        });
      }
    }

    function validate() {
      return body().then(function (sent) { return post(root.getAttribute("data-validate-url"), sent); })
        .then(function (answer) {
          if (!answer.ok) { say(words.failed + " " + answer.data.error.message, "error"); return false; }
          showProblems(answer.data.problems, answer.data.unknown_lanes, answer.data.lint);
          say(answer.data.ok ? words.valid : words.problems, answer.data.ok ? "success" : "error");
          root.setAttribute("data-validated", answer.data.ok ? "ok" : "problems");
          return answer.data.ok;
        });
    }

    document.getElementById("modeler-validate").addEventListener("click", validate);
    document.getElementById("modeler-draft").addEventListener("click", function () {
      var basedOn = parseInt(root.getAttribute("data-based-on"), 10);
      body({ based_on: isNaN(basedOn) ? null : basedOn })
        .then(function (sent) { return post(root.getAttribute("data-draft-url"), sent); })
        .then(function (answer) {
          say(answer.ok ? words.saved : words.failed + " " + answer.data.error.message, answer.ok ? "success" : "error");
        });
    });
    document.getElementById("modeler-deploy").addEventListener("click", function () {
      var note = document.getElementById("modeler-note").value.trim();
      if (!note) { say(words.note_needed, "error"); document.getElementById("modeler-note").focus(); return; }
      body({ note: note }).then(function (sent) { return post(root.getAttribute("data-deploy-url"), sent); })
        .then(function (answer) {
          if (answer.ok) {
            clearProblems();
            say(fill(words.deployed, { n: answer.data.version }), "success");
            root.setAttribute("data-deployed", String(answer.data.version));
            return;
          }
          var error = answer.data.error;
          if (error.problems) showProblems(error.problems, [], []);
          say(words.failed + " " + error.message, "error");
        });
    });

    fetch(root.getAttribute("data-source"), { credentials: "same-origin", headers: { Accept: "application/xml" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (text) { return modeler.importXML(text); })
      .then(function () {
        canvas.zoom("fit-viewport", "auto");
        root.setAttribute("data-ready", "true");
        say(words.loaded, "");
      })
      .catch(function () { say(words.load_failed, "error"); });
    window.amflowModeler = modeler;  // for the browser test's checks of the diagram
  }

  // --- the diff page: the newer version with the added and changed elements marked ------------------------

  function diffDiagram(container) {
    var viewer = new window.BpmnJS({ container: container });
    fetch(container.getAttribute("data-xml-url"), { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (text) { return viewer.importXML(text); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        [["data-added", "diff-added"], ["data-changed", "diff-changed"]].forEach(function (pair) {
          (json(container, pair[0], []) || []).forEach(function (id) {
            if (registry.get(id)) canvas.addMarker(id, pair[1]);
          });
        });
        canvas.zoom("fit-viewport", "auto");
        container.setAttribute("data-rendered", "true");
      })
      .catch(function () { container.classList.add("diagram--failed"); });
  }

  // --- the form editor: JSON checked as typed, the preview drawn by the server as the task page draws it ------

  function formEditor(editorForm) {
    var schema = document.getElementById("form-schema");
    var ui = document.getElementById("form-ui");
    var check = document.getElementById("form-check");
    var preview = document.getElementById("form-preview");
    var timer = null;
    function refresh() {
      var parsed;
      try {
        parsed = { schema: JSON.parse(schema.value || "{}"), ui: JSON.parse(ui.value || "{}") };
      } catch (error) {
        check.textContent = error.message;
        editorForm.setAttribute("data-valid", "false");
        return;
      }
      post(editorForm.getAttribute("data-preview-url"), parsed).then(function (answer) {
        if (!answer.ok) {
          check.textContent = answer.data.error.message;
          editorForm.setAttribute("data-valid", "false");
          return;
        }
        check.textContent = "";
        preview.innerHTML = answer.data.html;  // our own server's rendering, every value escaped there
        editorForm.setAttribute("data-valid", "true");
      });
    }
    [schema, ui].forEach(function (area) {
      area.addEventListener("input", function () {
        window.clearTimeout(timer);
        timer = window.setTimeout(refresh, 400);
      });
    });
  }

  function start() {
    var root = document.getElementById("modeler");
    if (root && typeof window.BpmnJS === "function") editor(root);
    var diff = document.getElementById("diff-diagram");
    if (diff && typeof window.BpmnJS === "function") diffDiagram(diff);
    var editorForm = document.getElementById("form-editor");
    if (editorForm) formEditor(editorForm);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
