"""Which chat turns may get a playbook offer, and the parameters a message gives a playbook."""

from __future__ import annotations

from graphs.playbooks.model import default_playbooks
from graphs.playbooks.offers import PlaybookOffers, params_from_message

wanted = PlaybookOffers.wanted
TURN = {"turn": 3, "route": {"act": "request"}}


def test_only_staff_requests_without_a_pause_or_an_own_action_get_one() -> None:
    assert wanted("staff", TURN)
    assert not wanted("client", TURN)
    assert not wanted("staff", {**TURN, "__interrupt__": ["paused"]})
    for act in ("confirmation", "refusal", "closing"):
        assert not wanted("staff", {**TURN, "route": {"act": act}})
    assert not wanted("staff", {**TURN, "confirmed": {"kind": "action"}})
    assert not wanted("staff", {**TURN, "pending": {"kind": "action", "turn": 3}})
    assert wanted("staff", {**TURN, "pending": {"kind": "action", "turn": 2}})  # expired
    assert wanted("staff", {**TURN, "pending": {"kind": "handover", "turn": 3}})


def test_references_fill_required_ids_and_the_message_the_subject() -> None:
    pbs = default_playbooks()
    params, missing = params_from_message(pbs.get("incident-response"), "Outage INC-12 now")
    assert params == {"incident_id": "INC-12", "subject": "Outage INC-12 now"} and not missing
    params, missing = params_from_message(pbs.get("kb-article"), "Write up the policy")
    assert missing == ["document_id"]
    _, missing = params_from_message(pbs.get("agency-cycle"), "Run the cycle for OFFER-2")
    assert missing == ["offer", "leads", "deal", "feedback"]  # objects never come from text
    long = "x " * 200
    assert len(params_from_message(pbs.get("incident-response"), long)[0]["subject"]) == 120
