"""The synthetic EDW extract (reservations, room stays, property reference) and HTNG archive, shaped on the
real hotel-booking dataset in shared/data, with the messiness real extracts have, and ``ground_truth.json``:
the counts the migration must report, derived from how the data was generated (never by running it).

Run as ``python -m jobs.generate_sample`` or ``python -m sample`` (:mod:`sample.cli`); from Python,
``sample.generator.generate(sample.options.Options(...))``. Vectorised with numpy/pandas: 1 M reservations in
well under a few minutes on 2 cores. Not part of the EMR artifact (:mod:`jobs.package` leaves it out).

Modules: :mod:`~sample.options` (what is asked), :mod:`~sample.vocabulary` (fixed names, zones, spellings),
:mod:`~sample.shapes` (distributions from the real dataset), :mod:`~sample.plan` (versions, times, breakage),
:mod:`~sample.edw` (the EDW tables), :mod:`~sample.spelling` (how the EDW writes values), :mod:`~sample.htng`
(OTA documents), :mod:`~sample.htng_archive` (the archive), :mod:`~sample.files` (writing),
:mod:`~sample.truth` (ground truth), :mod:`~sample.generator` (the stages in order).
"""
