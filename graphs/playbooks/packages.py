"""Typed handoff packages: what one persona hands the next in a playbook.

Each package type has an input model (validated strictly from the run's parameters and earlier
packages), a pure transform, and an output model. Transforms are deterministic — no clock, no
randomness — so a replayed step builds the identical package (idempotent handoffs). The five
agency-cycle packages follow the stages of the agency handoff chain in the seeds (offer →
marketing brief, campaign leads → sales briefs, closed deal → work order, completed project →
feedback request, feedback → offer recommendations); ``stage_brief`` is the generic package of
the collaboration chains.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class PackageError(ValueError):
    """A handoff's input is missing or malformed (the message lists pydantic's findings)."""


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _short_hash(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8]


# ---------------------------------------------------------------- 1. offer -> marketing
class Offer(_In):
    """A product or service offer (input of the marketing brief)."""

    product_name: str = Field(min_length=1)
    target_audience: str = Field(min_length=1)
    value_proposition: str = Field(min_length=1)
    unique_selling_points: list[str] = Field(min_length=1)
    pricing_tier: str = ""
    marketing_budget: int = Field(default=0, ge=0, description="Whole currency units")
    launch_timeline: str = ""


class MarketingBrief(_Out):
    """What Liora's campaign starts from."""

    campaign_name: str
    target_audience: str
    key_messages: list[str]
    campaign_objectives: list[str]
    budget_allocation: dict[str, int]


def marketing_brief(ctx: dict[str, Any]) -> MarketingBrief:
    """Offer (``params.offer``) → marketing brief.

    The budget is split 50/30/20 over paid media, content and events (a stated house rule, not
    a seed figure).
    """
    offer = Offer.model_validate(ctx["params"].get("offer"))
    budget = offer.marketing_budget
    paid, content = budget * 50 // 100, budget * 30 // 100
    return MarketingBrief(
        campaign_name=f"{offer.product_name} launch",
        target_audience=offer.target_audience,
        key_messages=[offer.value_proposition, *offer.unique_selling_points],
        campaign_objectives=["build awareness", "generate qualified leads"],
        budget_allocation={
            "paid_media": paid,
            "content": content,
            "events": budget - paid - content,
        },
    )


# ---------------------------------------------------------------- 2. marketing -> sales
Level = Literal["low", "medium", "high"]
_LEVEL_POINTS = {"low": 0, "medium": 5, "high": 10}


class Lead(_In):
    """One lead a campaign produced."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    company: str = ""
    score: int = Field(ge=0, le=100)
    engagement_level: Level = "medium"
    budget_indicator: Level = "medium"
    urgency: Level = "medium"
    interests: list[str] = []
    pain_points: list[str] = []


class SalesBrief(_Out):
    """A qualified prospect for Nyra."""

    prospect_id: str
    qualification_score: int = Field(ge=0, le=100)
    recommended_approach: str
    talking_points: list[str]
    next_actions: list[str]


class SalesBriefs(_Out):
    """Every lead of the campaign, best first."""

    campaign_name: str
    briefs: list[SalesBrief]


def qualification_score(lead: Lead) -> int:
    """Qualification score 0-100 of a lead.

    Lead score (70 %) plus engagement, budget and urgency (10 points each at ``high``, 5 at
    ``medium``), capped at 100: a documented house weighting, not a seed figure.
    """
    extra = sum(
        _LEVEL_POINTS[x] for x in (lead.engagement_level, lead.budget_indicator, lead.urgency)
    )
    return min(100, round(lead.score * 0.7 + extra))


def sales_briefs(ctx: dict[str, Any]) -> SalesBriefs:
    """Campaign leads (``params.leads``) → sales briefs with qualification scores.

    Score ≥ 70: reach out now; ≥ 40: nurture; else: keep in the newsletter.

    Raises:
        PackageError: no leads, or a malformed one.
    """
    brief = ctx["packages"].get("marketing_brief") or {}
    try:
        leads = [Lead.model_validate(x) for x in ctx["params"].get("leads") or []]
    except ValidationError as exc:
        raise PackageError(str(exc)) from exc
    if not leads:
        raise PackageError("sales_briefs needs at least one lead in params.leads")
    out = []
    for lead in leads:
        q = qualification_score(lead)
        approach = "immediate_outreach" if q >= 70 else "nurture" if q >= 40 else "newsletter"
        out.append(
            SalesBrief(
                prospect_id=lead.id,
                qualification_score=q,
                recommended_approach=approach,
                talking_points=[*lead.pain_points, *lead.interests][:5],
                next_actions=["schedule discovery call"] if q >= 70 else ["send case study"],
            )
        )
    out.sort(key=lambda b: (-b.qualification_score, b.prospect_id))
    return SalesBriefs(campaign_name=str(brief.get("campaign_name", "campaign")), briefs=out)


# ---------------------------------------------------------------- 3. sales -> fulfillment
class Deliverable(_In):
    """One deliverable of a deal."""

    name: str = Field(min_length=1)
    estimated_days: int = Field(ge=1, le=365)


class ClosedDeal(_In):
    """A won deal."""

    deal_id: str = Field(min_length=1)
    company: str = Field(min_length=1)
    tier: Literal["standard", "premium", "enterprise"] = "standard"
    start_date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    total_value: int = Field(ge=0)
    deliverables: list[Deliverable] = Field(min_length=1)


class Milestone(_Out):
    """A deliverable with its due date (ISO)."""

    name: str
    due: str


class WorkOrder(_Out):
    """What Ruvo delivers against."""

    work_order_id: str
    deal_id: str
    company: str
    milestones: list[Milestone]
    priority: Literal["normal", "high"]
    status: Literal["pending_assignment"] = "pending_assignment"


def work_order(ctx: dict[str, Any]) -> WorkOrder:
    """Closed deal (``params.deal``) → work order with milestones.

    Milestones run back to back from the start date; priority is high for enterprise deals or
    a value ≥ 25 000.
    """
    deal = ClosedDeal.model_validate(ctx["params"].get("deal"))
    day = date.fromisoformat(deal.start_date)
    milestones = []
    for d in deal.deliverables:
        day += timedelta(days=d.estimated_days)
        milestones.append(Milestone(name=d.name, due=day.isoformat()))
    high = deal.tier == "enterprise" or deal.total_value >= 25_000
    return WorkOrder(
        work_order_id=f"WO-{deal.deal_id}-{_short_hash(deal.deal_id, deal.start_date)}",
        deal_id=deal.deal_id,
        company=deal.company,
        milestones=milestones,
        priority="high" if high else "normal",
    )


# ---------------------------------------------------------------- 4. fulfillment -> feedback
class FeedbackRequest(_Out):
    """What Sage sends the client once the project is delivered."""

    request_id: str
    work_order_id: str
    company: str
    questions: list[str]
    rating_categories: list[str]
    collection_methods: list[str]


def feedback_request(ctx: dict[str, Any]) -> FeedbackRequest:
    """Completed work order (package ``work_order``) → feedback request.

    One question per milestone plus an open one.

    Raises:
        PackageError: no work order earlier in the run.
    """
    wo = ctx["packages"].get("work_order")
    if not wo:
        raise PackageError("feedback_request needs the work_order package")
    order = WorkOrder.model_validate(wo)
    return FeedbackRequest(
        request_id=f"FR-{order.work_order_id}",
        work_order_id=order.work_order_id,
        company=order.company,
        questions=[f"How satisfied are you with {m.name}?" for m in order.milestones]
        + ["What could we improve?"],
        rating_categories=["overall", "communication", "timeliness", "quality", "value"],
        collection_methods=["email survey", "follow-up call"],
    )


# ---------------------------------------------------------------- 5. feedback -> offer
class Feedback(_In):
    """Ratings (1-5) per category, and free-text remarks."""

    ratings: dict[str, int]
    improve: list[str] = []
    liked: list[str] = []


Sentiment = Literal["negative", "neutral", "positive", "very_positive"]


class OfferRecommendations(_Out):
    """What the offer owner refines next."""

    satisfaction_score: int = Field(ge=0, le=100)
    overall_sentiment: Sentiment
    strengths: list[str]
    improvement_areas: list[str]
    service_adjustments: list[str]


def offer_recommendations(ctx: dict[str, Any]) -> OfferRecommendations:
    """Feedback (``params.feedback``) → offer recommendations.

    The mean rating is scaled to 0-100; categories rated 5 are strengths, ≤ 3 improvement areas.

    Raises:
        PackageError: no ratings, or one outside 1-5.
    """
    fb = Feedback.model_validate(ctx["params"].get("feedback"))
    if not fb.ratings or any(not 1 <= v <= 5 for v in fb.ratings.values()):
        raise PackageError("feedback.ratings needs at least one rating, each 1-5")
    score = round(sum(fb.ratings.values()) / len(fb.ratings) * 20)
    sentiment: Sentiment = (
        "very_positive" if score >= 90 else "positive" if score >= 70 else
        "neutral" if score >= 50 else "negative"
    )  # fmt: skip
    weak = sorted(k for k, v in fb.ratings.items() if v <= 3)
    return OfferRecommendations(
        satisfaction_score=score,
        overall_sentiment=sentiment,
        strengths=sorted(k for k, v in fb.ratings.items() if v >= 5) + fb.liked,
        improvement_areas=weak + fb.improve,
        service_adjustments=[f"improve {w}" for w in weak + fb.improve],
    )


# ---------------------------------------------------------------- generic
class StageBrief(_Out):
    """A generic handoff note between personas in a collaboration chain."""

    stage: str
    sender: str
    receiver: str
    subject: str
    summary: str
    carried: dict[str, Any]


def stage_brief(ctx: dict[str, Any]) -> StageBrief:
    """The step's description and the run's parameters, plus every earlier package's keys."""
    step = ctx["step"]
    return StageBrief(
        stage=step["id"],
        sender=step["persona"],
        receiver=step["to"],
        subject=str(ctx["params"].get("subject", "")),
        summary=step.get("description", ""),
        carried={k: sorted(v) for k, v in ctx["packages"].items() if isinstance(v, dict)},
    )


@dataclass(frozen=True)
class PackageType:
    """A registered package: its output model and its builder."""

    name: str
    model: type[BaseModel]
    build: Callable[[dict[str, Any]], BaseModel]


PACKAGES: dict[str, PackageType] = {
    p.name: p
    for p in (
        PackageType("marketing_brief", MarketingBrief, marketing_brief),
        PackageType("sales_briefs", SalesBriefs, sales_briefs),
        PackageType("work_order", WorkOrder, work_order),
        PackageType("feedback_request", FeedbackRequest, feedback_request),
        PackageType("offer_recommendations", OfferRecommendations, offer_recommendations),
        PackageType("stage_brief", StageBrief, stage_brief),
    )
}


def build_package(
    name: str, params: dict[str, Any], packages: dict[str, Any], step: dict[str, Any]
) -> dict[str, Any]:
    """Build package ``name`` and return it as JSON-ready data.

    Args:
        name: A key of :data:`PACKAGES`.
        params: The run's resolved parameters.
        packages: Earlier packages of the run, by package name.
        step: The handoff step (``model_dump`` of :class:`~graphs.playbooks.model.Step`).

    Raises:
        PackageError: unknown package or invalid input.
    """
    kind = PACKAGES.get(name)
    if kind is None:
        raise PackageError(f"unknown package {name!r}; known: {', '.join(sorted(PACKAGES))}")
    try:
        built = kind.build({"params": params, "packages": packages, "step": step})
    except ValidationError as exc:
        raise PackageError(f"{name}: invalid input: {exc}") from exc
    return built.model_dump(mode="json")
