"""Pure DataFrame -> DataFrame transforms and Column -> Column functions (no I/O, no actions, no logging)."""

from __future__ import annotations

from transforms.classify import with_classification, with_edw_versions
from transforms.dedupe import OUTCOMES, with_outcome
from transforms.htng import with_canonical_htng
from transforms.normalize import content_hash, with_canonical_edw, with_properties_normalized
from transforms.parameters import RuleParameters
from transforms.pii import with_guest_protected
from transforms.room_stays import (
    filter_orphan_room_stays,
    group_property,
    with_room_stays_attached,
    with_room_stays_grouped,
    with_room_stays_normalized,
)
from transforms.rules import REASON_CODES, with_reasons

__all__ = [
    "OUTCOMES",
    "REASON_CODES",
    "RuleParameters",
    "content_hash",
    "filter_orphan_room_stays",
    "group_property",
    "with_canonical_edw",
    "with_canonical_htng",
    "with_classification",
    "with_edw_versions",
    "with_guest_protected",
    "with_outcome",
    "with_properties_normalized",
    "with_reasons",
    "with_room_stays_attached",
    "with_room_stays_grouped",
    "with_room_stays_normalized",
]
