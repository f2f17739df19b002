"""Cost of a decision of the new rule sets against lone_work, measured in the same run.

contractor_job fires up to 17 rules; precursor_classification adds a register lookup (name, synonym or
CAS number, on the decision date) before durable-rules runs. Rounds alternate between the cases and
medians are printed with their ratio to lone_work (the machine is shared and noisy).

    .venv/bin/python bench/rules_decisions.py [--rounds 30] [--per-round 200]
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time
from typing import Any

from rules import decide

ON = datetime.date(2026, 6, 1)
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "lone_work (baseline)": ("lone_work", {"hazards": ["cryogenics"], "outside_normal_hours": True}),
    "contractor_job, plain visit": ("contractor_job", {"work_types": ["service_visit"]}),
    "contractor_job, everything fires": ("contractor_job", {
        "work_types": ["alteration"],
        "location_hazards": ["asbestos_pcb_suspected", "fume_hood_or_ventilation_shutdown"],
        "hot_work": True, "employers_on_site_simultaneously": 3, "max_persons_simultaneously": 25,
        "duration_workdays": 40, "person_days": 900, "particularly_dangerous_work": True, "supplier_internal": True,
        "worker_alone_in_hazard_area": True, "uncontrolled_hazard": True}),
    "precursor by salt name": ("precursor_classification", {"substance": "Pseudoephedrine hydrochloride",
                                                            "supplies_third_parties": True, "trade_outside_eu": True}),
    "precursor by CAS": ("precursor_classification", {"substance": "108-24-7", "annual_quantity": 150,
                                                      "quantity_unit": "l"}),
    "precursor unknown": ("precursor_classification", {"substance": "sodium chloride"}),
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--per-round", type=int, default=200)
    args = parser.parse_args()
    for name, facts in CASES.values():  # warm up: load the catalog, register every rule set with durable-rules
        decide(name, facts, on=ON)
    samples: dict[str, list[float]] = {label: [] for label in CASES}
    for _ in range(args.rounds):
        for label, (name, facts) in CASES.items():
            start = time.perf_counter()
            for _ in range(args.per_round):
                decide(name, facts, on=ON)
            samples[label].append((time.perf_counter() - start) / args.per_round)
    baseline = statistics.median(samples["lone_work (baseline)"])
    for label, values in samples.items():
        median = statistics.median(values)
        print(f"{label:36s} {median * 1e6:8.1f} µs/decision  ratio {median / baseline:5.2f}")


if __name__ == "__main__":
    main()
