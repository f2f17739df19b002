"""The shipped BPMN diagrams keep the conventions of docs/internals.md, and lone_work_approval routes right."""

from __future__ import annotations

import ast
import copy
import json
from typing import Any

import pytest
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import BusinessRuleTaskParser, SpiffTaskParser
from SpiffWorkflow.spiff.specs.defaults import NoneTask
from SpiffWorkflow.util.task import TaskState

from bpmn import diagram_names, diagram_xml
from forms import form_exists, form_name_from_properties

# docs/internals.md, "BPMN conventions": a lane's name is one of these group codes.
KNOWN_GROUPS = {
    "employees", "leaders", "amk", "amr", "hr", "cas", "arbejdsmiljo",
    "precursor-coordinator", "process-owners", "admins",
}  # fmt: skip
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
FLOW_NODES = ("startEvent", "endEvent", "userTask", "serviceTask", "businessRuleTask", "exclusiveGateway")
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class RuleTaskAsPlainTask(BusinessRuleTaskParser):
    """Reads a business-rule task as a plain task: the real parser (processes/) calls our rules, not DMN."""

    create_task = SpiffTaskParser.create_task


class Parser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("businessRuleTask"): (RuleTaskAsPlainTask, NoneTask),
    }


def tree(name: str) -> etree._ElementTree:
    return etree.ElementTree(etree.fromstring(diagram_xml(name), SAFE_PARSER))


def process_specs(name: str) -> dict[str, BpmnProcessSpec]:
    parser = Parser(validator=VALIDATOR)
    parser.add_bpmn_xml(tree(name), filename=f"{name}.bpmn")
    return {pid: parser.get_spec(pid) for pid in parser.get_process_ids()}


def flow_task_specs(name: str) -> list[Any]:
    return [
        spec
        for process in process_specs(name).values()
        for spec in process.task_specs.values()
        if getattr(spec, "bpmn_id", None) is not None
    ]


def test_the_lone_work_diagram_ships() -> None:
    assert "lone_work_approval" in diagram_names()


@pytest.mark.parametrize("name", diagram_names())
def test_every_diagram_is_well_formed_and_passes_the_spiff_schema(name: str) -> None:
    document = tree(name)
    assert document.docinfo.doctype == ""
    VALIDATOR.validate(document, filename=f"{name}.bpmn")


@pytest.mark.parametrize("name", diagram_names())
def test_every_lane_is_a_known_group_and_every_flow_node_has_a_lane(name: str) -> None:
    lanes = tree(name).xpath("//bpmn:lane/@name", namespaces=NS)
    assert lanes, f"{name} has no lanes"
    assert set(lanes) <= KNOWN_GROUPS
    # A sub-process holding the tasks of several lanes sits in none: Spiff puts everything inside a sub-process
    # that sits in a lane into that lane. Its own elements then carry their lanes.
    holders = set(tree(name).xpath("//bpmn:subProcess[.//bpmn:subProcess or .//bpmn:userTask]/@id", namespaces=NS))
    in_lanes = set(tree(name).xpath("//bpmn:lane/bpmn:flowNodeRef/text()", namespaces=NS))
    for spec in flow_task_specs(name):
        if (spec.bpmn_id in holders and spec.bpmn_id not in in_lanes) or "MultiInstance" in type(spec).__name__:
            continue
        assert spec.lane in KNOWN_GROUPS, f"{name}: {spec.bpmn_id} is in no known lane"


@pytest.mark.parametrize("name", diagram_names())
def test_every_user_task_and_start_event_names_a_form_that_exists(name: str) -> None:
    for spec in flow_task_specs(name):
        kind = type(spec).__name__
        if kind not in ("UserTask", "StartEvent"):
            continue
        form = form_name_from_properties(spec.extensions.get("properties"))
        if kind == "UserTask":
            assert form is not None, f"{name}: user task {spec.bpmn_id} names no form"
        if form is not None:
            assert form_exists(form), f"{name}: {spec.bpmn_id} names the unknown form {form!r}"


def no_attribute_access_or_calls(expression: str) -> bool:
    nodes = ast.walk(ast.parse(expression, mode="eval"))
    return not any(isinstance(node, ast.Attribute | ast.Call | ast.Lambda) for node in nodes)


@pytest.mark.parametrize("name", diagram_names())
def test_every_condition_is_a_plain_expression_and_every_choice_has_a_default(name: str) -> None:
    document = tree(name)
    for condition in document.xpath("//bpmn:conditionExpression/text()", namespaces=NS):
        assert no_attribute_access_or_calls(condition), f"{name}: {condition!r}"
    for gateway in document.xpath("//bpmn:exclusiveGateway", namespaces=NS):
        if len(gateway.xpath("bpmn:outgoing", namespaces=NS)) > 1:
            assert gateway.get("default"), f"{name}: gateway {gateway.get('id')} has no default flow"


@pytest.mark.parametrize("name", diagram_names())
def test_every_notify_task_names_a_template_and_one_addressee_as_quoted_strings(name: str) -> None:
    for spec in flow_task_specs(name):
        if type(spec).__name__ != "ServiceTask":
            continue
        if spec.operation_name == "start_case":  # starts a follow-up case; checked by the engine tests
            assert isinstance(ast.literal_eval(spec.operation_params["process"]["value"]), str)
            continue
        if spec.operation_name == "send_message":  # a message into another case; checked by the engine tests
            assert isinstance(ast.literal_eval(spec.operation_params["message"]["value"]), str)
            continue
        if spec.operation_name == "webhook":  # a configured target by name; checked at deploy and by the engine tests
            assert isinstance(ast.literal_eval(spec.operation_params["target"]["value"]), str)
            continue
        assert spec.operation_name == "notify", f"{name}: {spec.bpmn_id}"
        # a quoted text, or (recipient only) the name of the data field holding a username or a user's e-mail
        values = {key: param["value"] for key, param in spec.operation_params.items()}
        if "recipient" in values and values["recipient"].isidentifier():
            values["recipient"] = repr(values["recipient"])
        params = {key: ast.literal_eval(value) for key, value in values.items()}
        assert all(isinstance(value, str) for value in params.values()), f"{name}: {spec.bpmn_id}"
        assert "template" in params, f"{name}: {spec.bpmn_id}"
        assert ("group" in params) != ("recipient" in params), f"{name}: {spec.bpmn_id}"


@pytest.mark.parametrize("name", diagram_names())
def test_every_element_is_drawn(name: str) -> None:
    document = tree(name)
    drawn = set(document.xpath("//bpmndi:BPMNShape/@bpmnElement | //bpmndi:BPMNEdge/@bpmnElement", namespaces=NS))
    elements = set(
        document.xpath(
            "//bpmn:process/*[@id and not(self::bpmn:laneSet)]/@id | //bpmn:lane/@id | //bpmn:participant/@id",
            namespaces=NS,
        )
    )
    assert elements <= drawn, f"{name}: not drawn: {sorted(elements - drawn)}"


def test_the_lone_work_process_has_its_lanes_forms_and_outcomes() -> None:
    spec = process_specs("lone_work_approval")["lone_work_approval"]
    assert spec.description == "Godkendelse af alenearbejde"
    by_id = {task.bpmn_id: task for task in flow_task_specs("lone_work_approval")}
    forms = {
        bpmn_id: (task.lane, form_name_from_properties(task.extensions.get("properties")))
        for bpmn_id, task in by_id.items()
        if type(task).__name__ in ("UserTask", "StartEvent")
    }
    assert forms == {
        "start": ("employees", "lone_work_application"),
        "young_worker_check": ("amk", "lone_work_young_worker_check"),
        "amk_review": ("amk", "lone_work_amk_review"),
        "supervisor_coapproval": ("leaders", "lone_work_supervisor_coapproval"),
        "leader_approval": ("leaders", "lone_work_leader_approval"),
        "applicant_revise": ("employees", "lone_work_application"),
        "instruction": ("amk", "lone_work_instruction"),
    }
    assert by_id["applicant_revise"].extensions["properties"]["assignTo"] == "starter"
    assert by_id["classify"].extensions["calledDecisionId"] == "lone_work"
    assert by_id["classify"].extensions["properties"]["resultVariable"] == "lone_work"
    rejected = {i for i, t in by_id.items() if t.extensions.get("properties", {}).get("caseStatus") == "rejected"}
    assert rejected == {"end_rejected", "end_not_approved"}


class RecordingEngine(PythonScriptEngine):
    """Runs the diagram's conditions with Spiff's own engine and records each notify call."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def evaluate(self, task: Any, expression: str, external_context: dict[str, Any] | None = None) -> Any:
        """As amflow's sandbox offers them: the case data whole as ``data``, and the case's id."""
        context = {"data": dict(task.data), "case_id": lambda: "the-case", **(external_context or {})}
        return super().evaluate(task, expression, external_context=context)

    def call_service(self, task: Any, **kwargs: Any) -> str:
        params = kwargs["operation_params"]
        if kwargs["operation_name"] == "send_message":  # a re-assessment's message to the earlier approval
            if params["case"]["value"]:
                self.sent.append(f"message:{params['message']['value']}")
            return json.dumps(None)
        if kwargs["operation_name"] == "start_case":
            self.sent.append(f"start:{params['process']['value']}")
        else:
            self.sent.append(params["template"]["value"])
        return json.dumps(None)


def walk(decision: dict[str, Any], answers: dict[str, list[dict[str, Any]]]) -> tuple[list[str], list[str], str]:
    """Run lone_work_approval with a fixed rule decision; return the user tasks, notifications and end."""
    answers = copy.deepcopy(answers)
    engine = RecordingEngine()
    workflow = BpmnWorkflow(process_specs("lone_work_approval")["lone_work_approval"], script_engine=engine)
    for task in workflow.get_tasks(state=TaskState.READY):  # the start form's required fields
        task.set_data(applicant_name="Anna Ansat", task_description="Destillation")
    workflow.do_engine_steps()
    visited = []
    for _ in range(20):
        if workflow.completed:
            break
        task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
        if task.task_spec.bpmn_id == "classify":  # what the real business-rule task would write
            task.set_data(lone_work=decision)
        else:
            visited.append(task.task_spec.bpmn_id)
            task.set_data(**answers[task.task_spec.bpmn_id].pop(0))
        task.run()
        workflow.do_engine_steps()
    ends = [t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.COMPLETED)]
    return visited, engine.sent, next(end for end in ends if end and end.startswith("end_"))


def rules(route: str, *, young: bool = False, student: bool = False, instruction: bool = False) -> dict[str, Any]:
    return {"route": route, "group": {"none": "G0", "register": "G1"}.get(route, "G2"), "young_worker_check": young,
            "supervisor_coapproval": student, "instruction_required": instruction}


INSTRUCT = {"instruction": [{"instructed_on": "2026-11-30", "instructed_by": "Karl", "instruction_covered": "Alt"}]}


REVIEW = {"amk_review": [{"mitigations_adequate": True}]}
APPROVE = {"leader_approval": [{"decision": "approve", "valid_until": "2027-06-30"}]}


@pytest.mark.parametrize(
    ("decision", "answers", "tasks", "sent", "end"),
    [
        (rules("none"), {}, [], [], "end_not_lone_work"),
        (rules("register"), {}, [], ["lone_work_registered"], "end_registered"),
        (rules("reject"), {}, [], ["lone_work_rejected"], "end_rejected"),
        pytest.param(rules("register", instruction=True), INSTRUCT, ["instruction"], ["lone_work_registered"],
                     "end_registered", id="B-R6 G1 without a recorded instruction waits for it"),
        pytest.param(rules("review_and_approval", instruction=True), {**REVIEW, **APPROVE, **INSTRUCT},
                     ["amk_review", "leader_approval", "instruction"],
                     ["lone_work_approved", "start:lone_work_validity"], "end_approved",
                     id="B-R6 G2 approved without a recorded instruction waits for it"),
        (
            rules("review_and_approval"),
            {**REVIEW, **APPROVE},
            ["amk_review", "leader_approval"],
            ["lone_work_approved", "start:lone_work_validity"],
            "end_approved",
        ),
        (
            rules("no_such_route"),
            {**REVIEW, **APPROVE},
            ["amk_review", "leader_approval"],
            ["lone_work_approved", "start:lone_work_validity"],
            "end_approved",
        ),
        (
            rules("review_and_approval"),
            {**REVIEW, "leader_approval": [{"decision": "reject"}]},
            ["amk_review", "leader_approval"],
            ["lone_work_not_approved"],
            "end_not_approved",
        ),
        (
            rules("review_and_approval"),
            {
                "amk_review": [{}, {}],
                "leader_approval": [{"decision": "send_back"}, {"decision": "approve", "valid_until": "2027-06-30"}],
                "applicant_revise": [{"buddy_name": "Lars"}],
            },
            ["amk_review", "leader_approval", "applicant_revise", "amk_review", "leader_approval"],
            ["lone_work_approved", "start:lone_work_validity"],
            "end_approved",
        ),
        (
            rules("review_and_approval", student=True),
            {**REVIEW, "supervisor_coapproval": [{"coapproved": True}], **APPROVE},
            ["amk_review", "supervisor_coapproval", "leader_approval"],
            ["lone_work_approved", "start:lone_work_validity"],
            "end_approved",
        ),
        (
            rules("review_and_approval", student=True),
            {**REVIEW, "supervisor_coapproval": [{"coapproved": False}]},
            ["amk_review", "supervisor_coapproval"],
            ["lone_work_not_approved"],
            "end_not_approved",
        ),
        (
            rules("review_and_approval", young=True),
            {"young_worker_check": [{"outcome": "reject"}]},
            ["young_worker_check"],
            ["lone_work_not_approved"],
            "end_not_approved",
        ),
        (
            rules("register", young=True),
            {"young_worker_check": [{"outcome": "allow"}]},
            ["young_worker_check"],
            ["lone_work_registered"],
            "end_registered",
        ),
    ],
)
def test_the_lone_work_process_routes_by_the_rule_decision_and_the_answers(
    decision: dict[str, Any], answers: dict[str, list[dict[str, Any]]], tasks: list[str], sent: list[str], end: str
) -> None:
    assert walk(decision, answers) == (tasks, sent, end)
