"""The reminder policy: when, relative to a deadline, the responsible person is reminded."""

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ReminderPolicy(BaseModel):
    """Defaults need no configuration: 28, 7 and 1 days before, on the day, then weekly."""

    model_config = ConfigDict(extra="forbid")

    before_days: list[int] = Field(
        default=[28, 7, 1], description="Days before the deadline to send a reminder."
    )
    on_due: bool = Field(default=True, description="Remind on the deadline itself.")
    overdue_every_days: int = Field(
        default=7, ge=1, le=366, description="After the deadline, remind every N days."
    )
    escalate: bool = Field(
        default=True, description="Copy the coordinator from the first overdue reminder."
    )

    @field_validator("before_days")
    @classmethod
    def _positive_and_distinct(cls, value: list[int]) -> list[int]:
        if any(d < 1 or d > 366 for d in value):
            raise ValueError("days before a deadline must be between 1 and 366")
        return sorted(set(value), reverse=True)
