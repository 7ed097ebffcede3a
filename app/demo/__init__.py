"""`foureyes demo`: the whole story on the bundled GitHub simulator, with no account and no
network, then the agent's audit trail. Importing this package starts nothing."""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from app.audit.trail import gather, render
from app.audit.verify import verify


def run_demo(
    echo: Callable[[str], None],
    *,
    workdir: Path | None = None,
    keep_running: threading.Event | None = None,
) -> list[str]:
    """Play the story, print the timeline and the audit trail through `echo`; returns the
    timeline's lines. With `keep_running`, serve until that event is set (so the details
    page can be opened: the simulated GitHub has `maria` signed in)."""
    from app.demo.stack import local_stack
    from app.demo.story import MAINTAINER, REPO, Story, Timeline
    from app.logging import configure_logging
    from app.simulator.routes_oauth import sign_in

    # The timeline is the demo's output: the app's own lines (migrations, HTTP calls,
    # tasks) would drown it, so only warnings, as text.
    configure_logging(logging.WARNING, human=True)
    with tempfile.TemporaryDirectory(prefix="foureyes-demo-") as scratch:
        folder = workdir or Path(scratch)
        with local_stack(folder) as stack:
            timeline = Timeline(echo)
            echo(f"foureyes demo: an agent, the human it works for, and the maintainers of {REPO}")
            echo(f"(simulated GitHub {stack.sim.url}, foureyes {stack.url})")
            echo("")
            story = Story(stack, timeline)
            try:
                story.play()
            finally:
                story.http.close()
            echo("")
            with stack.flask_app.extensions["foureyes"].sessions() as session:
                events = gather(session, agent=story.agent)
                echo(render(events, f"agent {story.agent}"))
                echo(verify(session).describe())
            # A request GitHub would refuse means the story proved nothing: say so.
            for refusal in stack.sim.refusals:
                echo(
                    f"the simulated GitHub refused {refusal.method} {refusal.path}: "
                    f"{refusal.status} ({refusal.kind}: {refusal.message})"
                )
            if keep_running is not None:
                sign_in(stack.sim.world, MAINTAINER)
                echo("")
                echo(f"details page: {stack.url}/prs/{REPO}/{story.pull_number}")
                echo(f"serving until interrupted; the simulated GitHub has {MAINTAINER} signed in")
                keep_running.wait()
            return timeline.lines
