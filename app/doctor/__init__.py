"""`foureyes doctor`: is the merge gate really enforced on every repository?

For each repository of each installation: a ruleset or branch protection on the
default branch requires the gate's check, bound to this app's id; no agent (nor this
app, whose tokens the agents hold) may bypass it; each deployment environment the
policy governs uses the app's protection rule; and the app holds the permissions and
events of `app.yml`. `run_doctor` gathers and judges (`gather` reads, `checks` is
pure); `render_table` and `Report.to_json` present; `record_drift` audits changes.
"""

from app.doctor.drift import record_drift
from app.doctor.findings import Finding, Report, Subject
from app.doctor.render import render_table
from app.doctor.run import run_doctor

__all__ = ["Finding", "Report", "Subject", "record_drift", "render_table", "run_doctor"]
