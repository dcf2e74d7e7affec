"""The change log: every value an import changed, with where the change came from."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow


class ChangeLogEntry(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", ondelete="CASCADE", index=True)
    entity: str = Field(max_length=40)
    entity_key: str = Field(max_length=100)
    field: str = Field(max_length=60)
    old_value: str | None = None
    new_value: str | None = None
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    source_file: str | None = Field(default=None, max_length=500)
