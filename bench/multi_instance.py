"""What one parallel multi-instance task costs as its item count grows (engine only, no database).

The test diagram tests/processes/bpmn/mi_parallel_notes.bpmn: a script makes N items, a parallel
multi-instance user task collects one note per item, a script counts them. For N = 20, 100, 300 this
starts a case and completes every instance, each completion a full restore -> complete -> run -> save
cycle as the use case does it (our wrapper: state-only serializer, escaping, pruning, compaction, the
ready-task list for the task index, the case data). Printed per N: total seconds, ms per item, the
ratio of that to the 20-item per-item cost, and the stored state bytes at the end and at its largest.
Times are CPU seconds of this process (``time.process_time``), the best of ``--repeat`` runs: the machine
is shared, and the best run is the one least disturbed by other work.

The baseline, measured in the same run: plain SpiffWorkflow doing the same steps with its stock
serializer (spec included in every save, as its documentation does it) and the default script engine.

    .venv/bin/python bench/multi_instance.py [--items 20 100 300]

With ``--http`` the same case runs over HTTP against the real server (``amflow serve --workers 2`` on a
temporary SQLite file, the demo's people): anna starts it (POST /api/v1/cases), karl (AMK in kemi)
completes every instance (POST /api/v1/tasks/{id}/complete), and the case must end with every note. Printed
per N: wall-clock seconds from the start request to the last completion, ms per item, and the case's state.

    .venv/bin/python bench/multi_instance.py --http [--items 20 100 300]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from processes.clock import SYSTEM_CLOCK
from processes.engine import runtime
from processes.engine.loader import load_process
from processes.engine.serializer import SERIALIZER_VERSION, dump_state, load_state
from processes.people.organisation import GROUP_CODES

BPMN = Path(__file__).resolve().parents[1] / "tests" / "processes" / "bpmn" / "mi_parallel_notes.bpmn"


def people(count: int) -> list[str]:
    return [f"person {index:04d}" for index in range(count)]


def run_wrapper(count: int) -> tuple[float, int, int]:
    """Our engine wrapper, as processes/cases.py drives it; returns (seconds, final bytes, peak bytes)."""
    parsed = load_process(BPMN.read_bytes(), BPMN.name, groups=GROUP_CODES)

    def new_run() -> runtime.Run:
        return runtime.Run(case_id="bench", unit="kemi", starter="anna", clock=SYSTEM_CLOCK)

    def save(workflow: BpmnWorkflow) -> str:  # as cases.persist_run
        runtime.compact(workflow)
        state = dump_state(workflow)
        runtime.case_data(workflow)
        runtime.release(workflow)  # keeps workflow.data and .completed, read at the end
        return state

    started = time.process_time()
    run = new_run()
    workflow = runtime.new_workflow(parsed, run)
    runtime.set_start_data(workflow, {"people": people(count)})
    runtime.advance(workflow, run)
    open_ids = [str(task.id) for task in runtime.ready_user_tasks(workflow)]
    state = save(workflow)
    peak = len(state)
    for index, task_id in enumerate(open_ids):
        run = new_run()
        workflow = runtime.attach(load_state(state, SERIALIZER_VERSION, parsed.spec, parsed.subprocess_specs), run)
        assert runtime.complete_user_task(workflow, task_id, {"note": f"note {index}"}, run) is not None
        runtime.advance(workflow, run)
        runtime.ready_user_tasks(workflow)
        state = save(workflow)
        peak = max(peak, len(state))
    seconds = time.process_time() - started
    assert workflow.completed and len(workflow.data["notes"]) == count, "the case did not end with every note"
    return seconds, len(state), peak


def run_spiff(count: int) -> tuple[float, int, int]:
    """Plain SpiffWorkflow: stock serializer and script engine, the same steps."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_files([str(BPMN)])
    spec = parser.get_spec("mi_parallel_notes")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    engine = PythonScriptEngine()

    started = time.process_time()
    workflow = BpmnWorkflow(spec, parser.get_subprocess_specs("mi_parallel_notes"), script_engine=engine)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.set_data(people=people(count))
    workflow.do_engine_steps()
    open_ids = [task.id for task in workflow.get_tasks(state=TaskState.READY, manual=True)]
    state = serializer.serialize_json(workflow)
    peak = len(state)
    for index, task_id in enumerate(open_ids):
        workflow = serializer.deserialize_json(state)
        workflow.script_engine = engine
        task = workflow.get_task_from_id(task_id)
        task.set_data(note=f"note {index}")
        task.run()
        workflow.do_engine_steps()
        workflow.get_tasks(state=TaskState.READY, manual=True)
        state = serializer.serialize_json(workflow)
        peak = max(peak, len(state))
    seconds = time.process_time() - started
    assert workflow.completed and len(workflow.data["notes"]) == count, "the case did not end with every note"
    return seconds, len(state), peak


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """`amflow serve --workers 2` on a temporary SQLite file with the demo's people and the test diagram."""

    def __init__(self, workdir: str) -> None:
        import processes  # noqa: PLC0415 - the engine-only mode needs no database
        from processes.demo import DEMO_PASSWORD  # noqa: PLC0415

        url = f"sqlite:///{workdir}/mi.db"
        db = processes.Database(url)
        db.upgrade()
        processes.load_demo(db)
        owner = processes.get_user(db, "owen")
        processes.deploy(db, BPMN.read_bytes(), BPMN.name, actor=owner)
        db.dispose()
        amflow = shutil.which("amflow") or str(Path(sys.executable).with_name("amflow"))
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}/api/v1"
        self.server = subprocess.Popen(
            [amflow, "serve", "--port", str(port), "--workers", "2", "--no-worker"],
            env={**os.environ, "AMFLOW_DATABASE_URL": url}, cwd=workdir,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.base + "/openapi.json", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.server.terminate()
                    raise RuntimeError("the server did not start within 60 s") from None
                time.sleep(0.2)
        self.tokens = {name: self.call("POST", "/auth/token", {"username": name, "password": DEMO_PASSWORD})["token"]
                       for name in ("anna", "karl")}

    def call(self, method: str, path: str, body: object = None, *, as_: str | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if as_ is not None:
            headers["Authorization"] = f"Bearer {self.tokens[as_]}"
        request = urllib.request.Request(self.base + path, method=method, headers=headers,
                                         data=None if body is None else json.dumps(body).encode())
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.server.terminate()
        self.server.wait(timeout=30)


def run_http(served: Served, count: int) -> tuple[float, str, int]:
    """Start a case with `count` items and complete every instance over HTTP; (seconds, status, notes)."""
    started = time.perf_counter()
    case = served.call("POST", "/cases", {"process": "mi_parallel_notes", "unit": "kemi",
                                          "data": {"people": people(count)}}, as_="anna")
    open_ids = [task["id"] for task in case["tasks"]]
    assert len(open_ids) == count, f"expected {count} open instances, got {len(open_ids)}"
    for index, task_id in enumerate(open_ids):
        case = served.call("POST", f"/tasks/{task_id}/complete", {"data": {"note": f"note {index}"}}, as_="karl")
    seconds = time.perf_counter() - started
    case = served.call("GET", f"/cases/{case['id']}", as_="anna")
    notes = case["data"].get("notes", [])
    assert case["status"] == "completed" and len(notes) == count, "the case did not end with every note"
    return seconds, case["status"], len(notes)


def main_http(items: list[int]) -> None:
    workdir = tempfile.mkdtemp(prefix="amflow-bench-mi-")
    served = None
    try:
        served = Served(workdir)
        run_http(served, 5)  # warm up both workers' caches
        print(f"{'items':>6}{'HTTP s':>9}{'ms/item':>9}{'ratio':>7}  case")
        base = None
        for count in items:
            seconds, status, notes = run_http(served, count)
            per_item = seconds / count
            base = base or per_item
            print(f"{count:>6}{seconds:>9.2f}{per_item * 1000:>9.1f}{per_item / base:>7.1f}  {status}, {notes} notes")
    finally:
        if served is not None:
            served.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, nargs="+", default=[20, 100, 300])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--http", action="store_true", help="over HTTP against the served app (wall-clock time)")
    args = parser.parse_args()
    if args.http:
        main_http(args.items)
        return
    runners: list[tuple[str, Callable[[int], tuple[float, int, int]]]] = [
        ("amflow", run_wrapper), ("spiff", run_spiff)]
    run_wrapper(5), run_spiff(5)  # warm up imports and caches
    print(f"{'engine':<8}{'items':>6}{'total s':>9}{'ms/item':>9}{'ratio':>7}{'final KB':>10}{'peak KB':>9}"
          f"{'B/item':>8}{'vs spiff':>10}")
    results: dict[tuple[str, int], tuple[float, int, int]] = {}
    for count in args.items:
        for name, runner in runners:
            runs = [runner(count) for _ in range(args.repeat)]
            results[name, count] = min(runs)
    for name, _ in runners:
        base = results[name, args.items[0]][0] / args.items[0]
        for count in args.items:
            seconds, final, peak = results[name, count]
            per_item = seconds / count
            spiff = results["spiff", count][0]
            print(f"{name:<8}{count:>6}{seconds:>9.2f}{per_item * 1000:>9.2f}{per_item / base:>7.1f}"
                  f"{final / 1024:>10.1f}{peak / 1024:>9.1f}{final // count:>8}{seconds / spiff:>10.2f}")


if __name__ == "__main__":
    main()
