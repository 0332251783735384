"""Persistence: SQLModel tables, repositories that turn rows into rule dataclasses, a unit of work."""
