"""Column types shared by the tables."""

from enum import Enum

from sqlalchemy import Enum as SAEnum


def enum_type(enum: type[Enum]) -> SAEnum:
    """An enum stored by its value as text, portable across SQLite and PostgreSQL."""
    return SAEnum(
        enum,
        native_enum=False,
        length=24,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )
