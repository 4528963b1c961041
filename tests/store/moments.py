"""The injected clock of the store tests: no store test reads the real time."""

from datetime import UTC, datetime

T0 = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
