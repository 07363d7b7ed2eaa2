"""The lock files pin every dependency pyproject.toml names, each with its hashes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text()
    entries = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)((?: \\\n\s+--hash=sha256:[0-9a-f]{64})+)",
                         text, flags=re.M)
    pinned = {canonicalize_name(name): version for name, version, _ in entries}
    # Every requirement line is pinned and hashed: no line escapes the pattern above.
    assert len(pinned) == len(re.findall(r"^[A-Za-z0-9]", text, flags=re.M))
    return pinned


@pytest.mark.parametrize(("lock", "groups"), [
    ("requirements.lock", ["dependencies"]),
    ("requirements-test.lock", ["dependencies", "test"]),
])
def test_every_dependency_is_pinned_with_hashes(lock: str, groups: list[str]) -> None:
    pinned = pins(lock)
    for group in groups:
        listed = PROJECT[group] if group == "dependencies" else \
            PROJECT["optional-dependencies"][group]
        for line in listed:
            wanted = Requirement(line)
            name = canonicalize_name(wanted.name)
            assert name in pinned, f"{lock} lacks {wanted.name}: run scripts/lock"
            assert wanted.specifier.contains(pinned[name], prereleases=True), (
                f"{lock} pins {wanted.name} {pinned[name]}, outside {wanted.specifier}:"
                " run scripts/lock"
            )
