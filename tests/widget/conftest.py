"""The relay harness fixture shared by the relay's test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fakes import Harness


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    harness.close()
