"""python -m sample: the same command as ``python -m jobs.generate_sample`` (see :mod:`sample.cli`)."""

from __future__ import annotations

import sys

from sample.cli import main

sys.exit(main())
