"""One generation, stage by stage: properties, reservations, EDW versions, room stays, the HTNG archive, the
files and the ground truth."""

from __future__ import annotations

from typing import Any

import numpy as np

from sample import edw, shapes, truth
from sample.files import write_extract
from sample.htng_archive import write_archive
from sample.options import Options


def generate(opts: Options) -> dict[str, Any]:
    """Write the sample under ``opts.out``; returns its ground truth (also in ``ground_truth.json``)."""
    rng = np.random.default_rng(opts.seed)
    properties = edw.properties(rng)
    reservations = shapes.reservations(rng, opts.reservations, shapes.bookings(opts.bookings))
    extract = edw.versions(rng, reservations, properties, opts)
    rooms, room_counts = edw.room_stays(rng, extract.rows, reservations, opts)
    counts = extract.counts
    counts["room_stays"] = room_counts
    htng = None
    if opts.htng_fraction > 0:
        archive = write_archive(rng, reservations, properties, extract.latest, opts)
        htng = truth.add_htng(counts, archive)
    write_extract(opts, "reference/properties", properties.drop(columns=["currency"]), 1)
    n_files = opts.files or max(1, round(len(extract.rows) / 250_000))
    write_extract(opts, "edw/reservations", extract.rows, n_files)
    write_extract(opts, "edw/room_stays", rooms, n_files)
    return truth.write(opts, counts, htng)
