"""python -m jobs.generate_sample --out DIR --reservations N --seed S [...]: the sample generator's command
(the generator is the :mod:`sample` package; this shim is not part of the EMR artifact)."""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):  # run as a file: python jobs/generate_sample.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sample.cli import main

if __name__ == "__main__":
    sys.exit(main())
