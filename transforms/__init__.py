"""Pure DataFrame -> DataFrame transforms and Column -> Column functions (no I/O, no actions, no logging).

The session side of guest protection (the seal function, the key relation) is the run's seal stage
(``seal.py`` beside the run's other stages).
"""

from __future__ import annotations

from transforms.classify import classify_versions, to_edw_versions
from transforms.dedupe import OUTCOMES, with_outcome
from transforms.htng import to_canonical_htng
from transforms.normalize import content_hash, filter_unsafe_properties, to_canonical_edw, to_canonical_properties
from transforms.parameters import RuleParameters
from transforms.pii import with_guest_protected
from transforms.room_stays import (
    filter_orphan_room_stays,
    group_property,
    group_room_stays,
    to_room_stay_lines,
    with_room_stays_attached,
)
from transforms.rules import REASON_CODES, with_reasons

__all__ = [
    "OUTCOMES",
    "REASON_CODES",
    "RuleParameters",
    "classify_versions",
    "content_hash",
    "filter_orphan_room_stays",
    "filter_unsafe_properties",
    "group_property",
    "group_room_stays",
    "to_canonical_edw",
    "to_canonical_htng",
    "to_canonical_properties",
    "to_edw_versions",
    "to_room_stay_lines",
    "with_guest_protected",
    "with_outcome",
    "with_reasons",
    "with_room_stays_attached",
]
