// bpmnlint's recommended rules over one BPMN diagram read from stdin; prints
// [{"id": element id, "rule": rule name, "category": "error"|"warn", "message": text}] as JSON.
// Run by the modeler's validate (service/web/bpmnlint.py) when node and web/node_modules are present.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { BpmnModdle } from "bpmn-moddle";

const require = createRequire(import.meta.url);
const { Linter } = require("bpmnlint");
const NodeResolver = require("bpmnlint/lib/resolver/node-resolver.js");

const here = path.dirname(fileURLToPath(import.meta.url));
let xml = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) xml += chunk;
const { rootElement } = await new BpmnModdle().fromXML(xml);
const linter = new Linter({ resolver: new NodeResolver({ require: createRequire(path.join(here, "package.json")) }) });
const results = await linter.lint(rootElement, { extends: "bpmnlint:recommended" });
const found = [];
for (const [rule, reports] of Object.entries(results)) {
  for (const report of reports) {
    found.push({ id: report.id || null, rule, category: report.category, message: report.message });
  }
}
process.stdout.write(JSON.stringify(found));
