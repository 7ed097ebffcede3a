"""Denial of service on /metrics: agent-chosen names become Prometheus label values.

`app/metrics.py::endpoint_template` collapses numbers and bare 40-hex shas only; the
branch names in `/repos/{o}/{r}/branches/{branch}` (read by the push guard for every
push) reach the `endpoint` label as they are. Each branch the agent pushes is a new time
series of `foureyes_github_requests_total`, kept by every process (and, multiprocess,
in its files) forever: the agent grows foureyes' memory and the scrape without bound.
"""

from __future__ import annotations

from app import metrics
from tests.attacks.harness import Attack


def endpoints() -> set[str]:
    return {
        sample.labels["endpoint"]
        for family in metrics.GITHUB_REQUESTS.collect()
        for sample in family.samples
        if "endpoint" in sample.labels
    }


def test_branch_names_the_agent_chooses_do_not_become_label_values(attack: Attack):
    agent = attack.agent("agent:acme/fixer", "alice")
    marker = "cardinality-probe"
    for i in range(5):
        branch = f"{agent.branch_prefix}{marker}-{i}"
        agent.create_branch(branch, attack.main())
        agent.commit(branch, "src/app.py", f"print({i})\n")

    leaked = sorted(e for e in endpoints() if marker in e)
    assert not leaked, f"{len(leaked)} label values carry agent-chosen branch names: {leaked[:2]}"
