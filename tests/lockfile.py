"""Reading requirements/*.lock (uv's ``pip compile --generate-hashes`` output) for the tests: written here, not
taken from the code under test."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*(.*?))?\s*\\?$")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def read_lock(path: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (version, sha256 hashes) of every pin whose environment marker holds for this interpreter."""
    pins: dict[str, tuple[str, frozenset[str]]] = {}
    current: tuple[str, str, bool] | None = None
    hashes: set[str] = set()

    def close() -> None:
        if current and current[2]:
            assert current[0] not in pins, f"{path.name}: {current[0]} pinned twice for this interpreter"
            pins[current[0]] = (current[1], frozenset(hashes))

    for line in path.read_text().splitlines():
        pin = _PIN.match(line)
        if pin:
            close()
            marker = pin.group(3)
            current = (canonicalize_name(pin.group(1)), pin.group(2), not marker or Marker(marker).evaluate())
            hashes = set()
        else:
            hashes.update(_HASH.findall(line))
    close()
    return pins
