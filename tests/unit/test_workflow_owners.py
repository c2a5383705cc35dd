"""Every one of the 194 transition owners, checked against a table audited from the seed.

The rule (DESIGN.md, "Workflows as data"): the seed's roles map to personas; approvals by
clients, experts or staff are ``human``; where the seed names a persona as a workflow's primary
agent, or as managing a state or "status transitions", that persona owns those steps; ``system``
owns only what the seed gives to the Base Agent Class. Each row below gives the owner and the
basis for it, read from ``shared/seeds/operational-workflows.md`` ("Agent Responsibilities") and,
where a workflow's responsibilities do not cover a step, the persona roles of
``higherself-training-guide.md``:

* ``approval`` — a client's, expert's or staff member's decision: ``human``;
* ``primary`` — the workflow's primary agent (for WF-INV-MGT: "manages inventory status
  transitions");
* ``manages`` — the persona the seed says manages the step's from-state;
* ``named`` — a responsibility the seed names for that persona in this workflow;
* ``base-agent`` — what the seed gives the Base Agent Class;
* ``atlas`` — DESIGN.md: the knowledge retrieval and embedding steps of WF-KB-DEV;
* ``role`` — no responsibility in the workflow covers it; the training guide's role does;
* ``deviation`` — a deliberate departure, listed with its reason in the workflow file.
"""

from __future__ import annotations

import re

import pytest

from graphs.workflows.catalog import default_catalog
from graphs.workflows.model import HUMAN, SYSTEM
from tests.conftest import SEEDS_DIR

A, P, M, N, B, T, R, D = (
    "approval", "primary", "manages", "named", "base-agent", "atlas", "role", "deviation",
)  # fmt: skip

#: ``{workflow: [(from_state, event, owner, basis), ...]}`` in seed order.
AUDITED: dict[str, list[tuple[str, str, str, str]]] = {
    "WF-SFTR-PUB": [
        ("draft", "design_complete", "elan", M),  # Design Agent manages draft
        ("internal_review", "changes_requested", "liora", N),  # reviews for brand consistency
        ("internal_review", "internal_approval", "liora", N),
        ("client_feedback", "client_changes_requested", "sage", N),  # client feedback collection
        ("client_feedback", "client_approval", HUMAN, A),
        ("revision", "revisions_complete", "elan", R),  # the designer implements changes
        ("testing", "test_failures", SYSTEM, D),
        ("testing", "tests_passed", SYSTEM, D),
        ("staging", "final_approval", HUMAN, A),
        ("published", "updates_needed", "elan", R),
        ("maintenance", "updates_completed", "elan", R),
    ],
    "WF-AGT-COMM": [
        (s, e, SYSTEM, B)  # Base Agent Class implements the whole workflow
        for s, e in [
            ("request_initiated", "request_received"),
            ("pattern_verification", "pattern_not_authorized"),
            ("pattern_verification", "pattern_authorized"),
            ("permissions_check", "permission_denied"),
            ("permissions_check", "permission_granted"),
            ("data_validation", "validation_failed"),
            ("data_validation", "validation_passed"),
            ("communication_approved", "communication_successful"),
            ("communication_approved", "communication_error"),
        ]
    ],
    "WF-GALLERY-EXH": [
        ("concept", "concept_approved", HUMAN, A),
        ("artist_selection", "artists_confirmed", "sage", N),  # communication with artists
        ("planning", "planning_complete", "ruvo", R),  # task orchestrator: logistics
        ("artwork_submission", "submission_deadline_reached", "ruvo", R),  # deadline management
        ("curation", "curation_complete", HUMAN, A),  # the curator's (an expert's) selection
        ("marketing_prep", "marketing_materials_ready", "liora", M),
        ("setup", "opening_day", "ruvo", R),
        ("active", "closing_day", "ruvo", R),
        ("closing", "all_artwork_processed", "ruvo", R),
        ("post_analysis", "analysis_complete", "liora", R),  # performance tracking
    ],
    "WF-WELL-BOOK": [
        ("inquiry", "consultation_scheduled", "nyra", N),  # inquiry to consultation
        ("consultation", "consultation_completed", "solari", P),
        ("quote_provided", "client_accepted_quote", HUMAN, A),
        ("quote_provided", "client_declined_quote", HUMAN, A),
        ("payment_pending", "payment_received", "solari", P),
        ("payment_pending", "payment_timeout", "solari", P),
        ("payment_confirmed", "confirmation_sent", "solari", P),
        # Ruvo "creates preparation tasks": work inside `preparation`, not its status change.
        ("booking_confirmed", "approaching_service_date", "solari", P),
        ("preparation", "service_started", "solari", P),
        ("service_delivery", "service_completed", "solari", P),
        ("follow_up", "follow_up_complete", "solari", P),
        ("feedback_collection", "feedback_received", "solari", P),
    ],
    "WF-CONSULT": [
        ("lead_qualification", "lead_qualified", "nyra", M),
        ("discovery", "discovery_complete", "nyra", R),  # lead capture until the contract
        ("proposal", "proposal_sent", "nyra", R),
        ("negotiation", "terms_agreed", HUMAN, A),
        ("contract", "contract_signed", HUMAN, A),
        ("kickoff", "kickoff_complete", "ruvo", R),  # project coordination
        ("execution", "review_scheduled", "ruvo", M),  # manages execution and review
        ("review", "continue_execution", "ruvo", M),
        ("review", "execution_complete", "ruvo", M),
        ("delivery", "deliverables_submitted", "ruvo", R),
        ("acceptance", "client_accepted", HUMAN, A),
        ("invoicing", "invoice_sent", "ruvo", R),
        ("payment", "payment_received", "solari", R),  # payment processing
        ("feedback", "feedback_received", "liora", N),  # project data for case studies
    ],
    "WF-MKTG-CAMP": [
        ("campaign_planning", "plan_approved", HUMAN, A),
        ("audience_segmentation", "segments_defined", "zevi", M),
        ("content_creation", "content_ready", "elan", M),
        ("content_approval", "revisions_needed", HUMAN, A),  # the approver's verdict
        ("content_approval", "content_approved", HUMAN, A),
        ("channel_setup", "channels_configured", "liora", P),
        ("campaign_activation", "campaign_launched", "liora", P),
        ("monitoring", "optimization_needed", "liora", P),
        ("optimization", "changes_implemented", "liora", P),
        ("monitoring", "campaign_ending", "liora", P),
        ("final_push", "campaign_ended", "liora", P),
        ("wrap_up", "data_collected", "liora", P),
    ],
    "WF-CONT-CYCLE": [
        ("ideation", "idea_selected", "elan", P),
        ("planning", "plan_finalized", "elan", P),
        ("creation", "draft_completed", "elan", P),
        ("review", "changes_requested", "liora", D),
        ("review", "review_passed", "liora", D),
        ("revision", "revision_completed", "elan", P),
        ("approval", "content_approved", HUMAN, A),
        ("scheduling", "publication_time", "elan", P),
        ("publishing", "published", "elan", P),
        ("distribution", "distribution_complete", "elan", P),
        ("monitoring", "repurposing_opportunity", "elan", P),
        ("monitoring", "content_lifecycle_complete", "elan", P),
        ("repurposing", "repurposing_plan_ready", "elan", P),
    ],
    "WF-PERM-MGT": [
        ("request_received", "request_logged", "ruvo", N),  # tracks permission tasks
        ("manager_review", "additional_info_needed", HUMAN, A),  # the manager's call
        ("manager_review", "manager_approved", HUMAN, A),
        ("security_verification", "security_cleared", SYSTEM, B),  # verification logic
        ("permission_setup", "permissions_configured", SYSTEM, D),
        ("notification", "notification_sent", "ruvo", N),
        ("training", "training_completed", "ruvo", N),
        ("active", "audit_scheduled", "ruvo", N),
        ("audit", "audit_passed", SYSTEM, B),  # an audit is verification
        ("audit", "changes_needed", SYSTEM, B),
        ("modification", "changes_applied", SYSTEM, D),
        ("active", "revocation_requested", HUMAN, A),  # a staff decision
    ],
    "WF-INV-MGT": [
        ("item_registration", "registration_complete", "solari", P),
        ("quality_check", "quality_verified", HUMAN, A),  # a person inspects and signs off
        ("pricing_approval", "price_approved", HUMAN, A),
        # Liora "updates product listings information": the copy, not the status change.
        ("listing_creation", "listing_published", "solari", P),
        ("in_stock", "client_reserved", "solari", P),
        ("reserved", "reservation_expired", "solari", P),
        ("reserved", "purchase_completed", "solari", P),
        ("in_stock", "direct_purchase", "solari", P),
        # Ruvo "creates tasks for shipping, restocking": tasks, not the status changes.
        ("sold", "item_shipped", "solari", P),
        ("shipped", "delivery_confirmed", "solari", P),
        ("shipped", "return_initiated", "solari", P),
        ("delivered", "return_requested", "solari", P),
        ("returned", "return_approved", HUMAN, A),
        ("restock", "item_restored", "solari", P),
        ("in_stock", "discontinue_item", HUMAN, D),
    ],
    "WF-CLIENT-RET": [
        ("new_client", "client_registered", "nyra", N),  # monitors new client onboarding
        ("onboarding", "onboarding_complete", "nyra", N),
        ("active_relationship", "scheduled_check_in", "sage", M),  # relationships, check-ins
        ("check_in", "check_in_completed", "sage", M),
        ("check_in", "issues_identified", "sage", M),
        ("feedback_collection", "positive_feedback", "sage", N),
        ("feedback_collection", "negative_feedback", "sage", N),
        ("feedback_collection", "eligible_for_referral", "liora", N),  # referral requests
        ("retention_risk", "retention_plan_created", "liora", N),  # win-back campaigns
        ("win_back", "client_reengaged", "liora", N),
        ("win_back", "win_back_failed", "liora", N),
        ("referral_request", "client_referred", "liora", N),
        ("referral_received", "referral_converted", "nyra", R),  # a referral is a new lead
        ("reward_delivery", "reward_delivered", "liora", N),
        ("active_relationship", "inactivity_threshold", "sage", M),
        ("dormant", "dormant_client_engaged", "liora", N),
        ("reactivated", "reactivation_complete", "sage", N),
    ],
    "WF-KB-DEV": [
        ("topic_identification", "topic_approved", HUMAN, A),
        ("content_planning", "plan_finalized", "elan", P),
        ("research", "research_complete", "atlas", T),
        ("draft_creation", "draft_completed", "elan", P),
        ("expert_review", "changes_requested", HUMAN, A),  # the expert's verdict
        ("expert_review", "expert_approved", HUMAN, A),
        ("revision", "revision_complete", "elan", P),
        ("final_approval", "content_approved", HUMAN, A),
        ("publishing", "content_published", "elan", P),
        ("categorization", "categorization_complete", "elan", P),
        ("embedding_creation", "embeddings_created", "atlas", T),
        ("active", "review_time_reached", "ruvo", N),  # tracks review schedules
        ("review_scheduled", "content_still_accurate", HUMAN, A),  # re-approval of the article
        ("review_scheduled", "updates_required", "elan", P),
        ("update_needed", "update_initiated", "elan", P),
        ("active", "content_deprecated", HUMAN, D),
    ],
    "WF-AGENT-ONB": [
        ("requirements_gathering", "requirements_approved", HUMAN, A),
        ("capability_design", "capabilities_defined", "ruvo", N),  # onboarding milestones
        ("personality_development", "personality_approved", HUMAN, A),
        # Base Agent Class "provides the foundation for new agents": code on it, pattern
        # registration, test runs and deployments are its technical steps.
        ("code_implementation", "code_complete", SYSTEM, B),
        ("pattern_registration", "patterns_registered", SYSTEM, B),
        ("integration_testing", "tests_failed", SYSTEM, B),
        ("integration_testing", "tests_passed", SYSTEM, B),
        ("staging_deployment", "staging_deployment_complete", SYSTEM, B),
        ("supervised_operation", "supervision_period_ended", "ruvo", N),
        ("performance_review", "adjustments_needed", HUMAN, A),  # the reviewers' verdict
        ("adjustment", "adjustments_completed", SYSTEM, B),
        ("performance_review", "performance_satisfactory", HUMAN, A),
        ("final_approval", "agent_approved", HUMAN, A),
        ("production_deployment", "deployment_successful", SYSTEM, B),
    ],
    "WF-DB-SYNC": [
        (s, e, SYSTEM, B)  # Base Agent Class handles basic database operations
        for s, e in [
            ("idle", "sync_scheduled"),
            ("idle", "external_webhook_received"),
            ("change_detection", "notion_changes_detected"),
            ("change_detection", "no_changes_detected"),
            ("external_change_detection", "external_changes_detected"),
            ("pre_sync_validation", "validation_passed"),
            ("pre_sync_validation", "validation_failed"),
            ("conflict_analysis", "no_conflicts_notion_to_external"),
            ("conflict_analysis", "no_conflicts_external_to_notion"),
            ("conflict_analysis", "conflicts_detected"),
            ("conflict_resolution", "conflicts_resolved_notion_priority"),
            ("conflict_resolution", "conflicts_resolved_external_priority"),
            ("notion_to_external", "notion_sync_completed"),
            ("external_to_notion", "external_sync_completed"),
            ("post_sync_validation", "validation_passed"),
            ("post_sync_validation", "validation_failed"),
            ("error_handling", "recovery_initiated"),
            ("error_handling", "error_logged"),
            ("recovery", "recovery_successful"),
            ("recovery", "recovery_failed"),
            ("logging", "sync_cycle_completed"),
        ]
    ],
    "WF-HF-INTEG": [
        ("model_evaluation", "evaluation_complete", SYSTEM, D),
        ("requirements_definition", "requirements_finalized", HUMAN, A),  # model governance
        ("model_selection", "model_selected", HUMAN, A),
        ("integration_planning", "hosted_api_preferred", HUMAN, A),
        ("integration_planning", "local_deployment_preferred", HUMAN, A),
        ("api_setup", "api_configured", SYSTEM, D),
        ("local_deployment", "local_model_deployed", SYSTEM, D),
        ("function_mapping", "functions_mapped", SYSTEM, D),
        ("testing", "tests_failed", SYSTEM, D),
        ("testing", "tests_passed", SYSTEM, D),
        ("performance_tuning", "tuning_complete", SYSTEM, D),
        ("deployment_preparation", "preparation_complete", SYSTEM, D),
        ("production_deployment", "deployment_successful", SYSTEM, D),
        ("monitoring", "fine_tuning_needed", "elan", N),  # uses models for content generation
        ("monitoring", "new_version_available", SYSTEM, D),
        ("fine_tuning", "fine_tuning_complete", SYSTEM, D),
        ("version_update", "update_initiated", SYSTEM, D),
        ("monitoring", "model_obsolete", HUMAN, A),
    ],
}

#: The seed's role names (DESIGN.md) → persona ids.
ROLES = {
    "Lead Capture": "nyra",
    "Booking": "solari",
    "Task Management": "ruvo",
    "Marketing Campaign": "liora",
    "Community Engagement": "sage",
    "Content Lifecycle": "elan",
    "Design": "elan",
    "Audience Segmentation": "zevi",
}


def _responsibilities() -> dict[str, list[tuple[str, str]]]:
    """``{workflow: [(persona or 'base', responsibility text), ...]}`` from the seed."""
    seed = SEEDS_DIR / "operational-workflows.md"
    # CI always has shared/ beside the repo: a missing seed is a failure, never a skip.
    assert seed.exists(), f"seed file not found at {seed} (shared/ must sit beside the repo)"
    out: dict[str, list[tuple[str, str]]] = {}
    for section in re.split(r"\n## ", seed.read_text(encoding="utf-8")):
        m = re.search(r"\*\*Workflow ID\*\*: (\S+)", section)
        if not m or "### Agent Responsibilities" not in section:
            continue
        block = section.split("### Agent Responsibilities")[1].split("###")[0]
        rows = []
        for role, text in re.findall(r"^- \*\*(.+?)\*\*: (.+)$", block, re.M):
            if role.startswith("Base Agent"):
                rows.append(("base", text))
            elif role != "All Agents":
                name = role.split(" Agent")[0]
                rows.append((ROLES[name], text))
        out[m.group(1)] = rows
    return out


def test_the_table_covers_all_194_transitions_exactly() -> None:
    audited = {(wf, s, e) for wf, rows in AUDITED.items() for s, e, _, _ in rows}
    ours = {(wf.id, t.from_state, t.event) for wf in default_catalog() for t in wf.transitions}
    assert sum(len(rows) for rows in AUDITED.values()) == len(audited) == 194
    assert audited == ours


@pytest.mark.parametrize("workflow_id", sorted(AUDITED))
def test_every_owner_matches_the_audited_table(workflow_id: str) -> None:
    wf = default_catalog().get(workflow_id)
    wrong = [
        (event, t.owner, owner)
        for state, event, owner, _ in AUDITED[workflow_id]
        if (t := wf.transition(state, event)) is not None and t.owner != owner
    ]
    assert wrong == [], "(event, data owner, audited owner)"


def test_deviations_in_the_files_are_exactly_the_audited_ones() -> None:
    for wf in default_catalog():
        listed = {t.step for t in wf.transitions if wf.deviation(t)}
        audited = {f"{s}/{e}" for s, e, _, basis in AUDITED[wf.id] if basis == D}
        assert listed == audited, wf.id


def test_bases_agree_with_the_seed_responsibilities() -> None:
    seed = _responsibilities()
    for wf_id, rows in AUDITED.items():
        resp = seed[wf_id]
        primary = {p for p, text in resp if "Primary agent" in text or "status transitions" in text}
        base_agent = any(p == "base" for p, _ in resp)
        named = {p for p, _ in resp if p != "base"}
        for state, event, owner, basis in rows:
            where = (wf_id, event, owner, basis)
            if basis == A:
                assert owner == HUMAN, where
            elif basis == P:
                assert primary == {owner}, where
            elif basis == M:
                managed = [text for p, text in resp if p == owner and text.startswith("Manages")]
                words = set(re.findall(r"[a-z_]+", " ".join(managed).lower()))
                assert managed and (state in words or state.split("_")[0] in words), where
            elif basis == N:
                assert owner in named, where
            elif basis == B:
                assert owner == SYSTEM and base_agent, where
            elif basis == T:
                assert (wf_id, owner) == ("WF-KB-DEV", "atlas"), where
            elif basis == R:
                assert not primary, f"{where}: a workflow with a primary agent needs no role rule"
            else:
                assert basis == D, where


def test_system_owns_only_base_agent_steps_or_listed_deviations() -> None:
    seed = _responsibilities()
    for wf in default_catalog():
        base_agent = any(p == "base" for p, _ in seed[wf.id])
        for t in wf.owned_by(SYSTEM):
            assert base_agent or wf.deviation(t), (wf.id, t.event)


def test_the_issue_findings_are_fixed() -> None:
    catalog = default_catalog()
    book, inv = catalog.get("WF-WELL-BOOK"), catalog.get("WF-INV-MGT")
    for event in ("payment_received", "payment_timeout"):
        assert book.transition("payment_pending", event).owner == "solari"  # type: ignore[union-attr]
    for state, event in (("sold", "item_shipped"), ("reserved", "reservation_expired"),
                         ("restock", "item_restored")):  # fmt: skip
        assert inv.transition(state, event).owner == "solari"  # type: ignore[union-attr]
    assert {t.owner for t in catalog.get("WF-CONT-CYCLE").transitions} == {"elan", "liora", HUMAN}
    kb = catalog.get("WF-KB-DEV")
    assert kb.transition("categorization", "categorization_complete").owner == "elan"  # type: ignore[union-attr]
