"""The reminder policy: when, relative to a deadline, the responsible person is reminded."""

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator


class ReminderPolicy(BaseModel):
    """Defaults need no configuration: 28, 7 and 1 days before, on the day, then weekly."""

    model_config = ConfigDict(extra="forbid")
    # Whole numbers are strict, as everywhere in a plan file: YAML's true is not 1 day.

    before_days: list[StrictInt] = Field(
        default=[28, 7, 1], description="Days before the deadline to send a reminder."
    )
    on_due: bool = Field(default=True, description="Remind on the deadline itself.")
    overdue_every_days: StrictInt = Field(
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
