from __future__ import annotations

from pathlib import Path

import pytest

from core.pack import Pack
from tests.nlp.packutil import load_test_pack


@pytest.fixture(scope="session")
def school() -> tuple[Pack, Path]:
    return load_test_pack("school")


def pack_or_skip(name: str) -> tuple[Pack, Path]:
    try:
        return load_test_pack(name)
    except FileNotFoundError:
        pytest.skip(f"packs/{name}/pack.yaml not in the tree yet")
