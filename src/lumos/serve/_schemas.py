"""The shapes the API answers with and takes, as its OpenAPI schema shows them."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Item(BaseModel):
    item_id: str
    score: float | None
    reason: str
    reason_text: str
    tracking_id: str
    position: int


class Recommendations(BaseModel):
    member_id: str
    treatment: str
    model_id: str
    cold_start: bool
    start: int
    count: int
    total: int
    items: list[Item]


class EventBatch(BaseModel):
    events: list[dict] = Field(min_length=1, max_length=1000)


class Offer(BaseModel):
    member_id: str
    tracking_id: str
    arm_id: str = Field(description='the arm played: product/creative/channel, or "none"')
    product: str | None
    creative: str | None
    channel: str
    propensity: float = Field(description="the probability the policy had of this decision")
    score: float | None
    capped: bool = Field(description="the member is at the weekly cap on this channel")
    cold_start: bool = Field(
        False,
        description="the member is not in the offer model's members table: decided on the "
        "average member, neither logged nor remembered",
    )
    model_id: str = Field(
        description="the model that decided; with a shared policy, its version too: offers@v17"
    )
    policy_version: int | None = Field(
        None,
        description="the version of the shared offer policy that decided (null: the server's "
        "processes do not share one)",
    )


class Accepted(BaseModel):
    accepted: int
    duplicates: int
