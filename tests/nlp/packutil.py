"""Test helpers: load a pack (bot.packs when it exists, else a minimal YAML reader)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from core.pack import Category, Department, Pack, Role, StaffMember

ROOT = Path(__file__).resolve().parents[2]
PACKS = ROOT / "packs"
DATA = Path(__file__).resolve().parent / "data"
SHARED_DATA = ROOT / ".." / "shared" / "data"


def _minimal_pack(path: Path) -> Pack:
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Pack(
        id=raw["id"],
        name=raw.get("name", raw["id"]),
        departments=tuple(
            Department(
                id=d["id"], name=d["name"], aliases=tuple(d.get("aliases") or ()),
                head=d.get("head"),
            )
            for d in raw.get("departments") or ()
        ),
        staff=tuple(
            StaffMember(
                id=s["id"], name=s["name"], department=s.get("department"),
                roles=frozenset(Role(r) for r in s.get("roles") or ["handler"]),
                aliases=tuple(s.get("aliases") or ()),
            )
            for s in raw.get("staff") or ()
        ),
        categories=tuple(
            Category(
                name=c["name"], department=c["department"],
                keywords=tuple(str(k) for k in c.get("keywords") or ()),
            )
            for c in raw.get("categories") or ()
        ),
    )


def load_test_pack(name: str) -> tuple[Pack, Path]:
    """(pack, pack_dir); raises FileNotFoundError when the pack is not in the tree yet."""
    pack_dir = PACKS / name
    path = pack_dir / "pack.yaml"
    if not path.is_file():
        raise FileNotFoundError(path)
    try:
        from bot.packs import load_pack  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return _minimal_pack(path), pack_dir
    loaded = load_pack(str(pack_dir))
    return loaded.pack, loaded.dir


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
