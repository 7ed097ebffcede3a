"""Red team, issue 14: Devin's requester pattern ends `\\b(?![.@])` (to skip e-mails), so
a sentence-ending full stop hides the requester: 'Requested by: @alice.' names nobody,
while the Jules pattern reads 'started by @alice.' fine."""

from __future__ import annotations

import pytest

from app.policy.catalogue import body_requesters, catalogue


@pytest.mark.parametrize(
    "body",
    ["Requested by: @alice.", "Requested by @alice.\n", "> Requested by: @alice."],
)
def test_a_full_stop_after_the_login_does_not_hide_devins_requester(body: str):
    assert [r.login for r in body_requesters(catalogue().entries, body)] == ["alice"]
