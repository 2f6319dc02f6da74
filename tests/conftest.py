"""Shared fixtures: the reference data beside the checkout, a fresh on-disk store per test."""

from __future__ import annotations

from pathlib import Path

import pytest

# the linked-data site (store, app over HTTP) that page, dereferencing and browser tests share: built once
from tests.pages_fixtures import site  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
#: ../shared/data beside the checkout (CI clones the repo with shared/ next to it)
DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"reference data not found at {DATA}: clone the project beside shared/")
    return DATA
