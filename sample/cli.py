"""python -m jobs.generate_sample --out DIR --reservations N --seed S [--format csv|parquet] [--bookings PATH]

(``python -m sample`` is the same command.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from jobs.cli import OneLineParser
from sample.generator import generate
from sample.options import DEFAULT_BOOKINGS, PARTITION_COLUMN, Options


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.reservations < 1:
        parser.error("--reservations: must be at least 1")
    if not all(0 <= x <= 0.5 for x in (args.broken_fraction, args.duplicate_fraction, args.htng_fraction)):
        parser.error("--broken-fraction, --duplicate-fraction and --htng-fraction must be within [0, 0.5]")
    if args.bookings is not None and not Path(args.bookings).is_file():
        parser.error(f"--bookings: no such file: {args.bookings}")
    opts = Options(
        Path(args.out),
        args.reservations,
        args.seed,
        args.fmt,
        args.broken_fraction,
        args.duplicate_fraction,
        args.files,
        args.htng_fraction,
        args.partition_by,
        DEFAULT_BOOKINGS if args.bookings is None else Path(args.bookings),
    )
    truth = generate(opts)
    print(
        json.dumps(
            {
                "out": str(opts.out),
                **truth["counts"]["input"],
                "reservations_loaded": truth["counts"]["reservations_loaded"],
            }
        )
    )
    return 0


def _parser() -> OneLineParser:
    parser = OneLineParser(prog="generate_sample", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", required=True)
    parser.add_argument("--reservations", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--format", dest="fmt", choices=("csv", "parquet"), default="csv")
    parser.add_argument(
        "--broken-fraction",
        type=float,
        default=0.001,
        help="share of reservations made invalid (default keeps the quarantine under the gate)",
    )
    parser.add_argument("--duplicate-fraction", type=float, default=0.03, help="share of rows re-extracted twice")
    parser.add_argument("--files", type=int, default=0, help="files per extract (default: about 250k rows each)")
    parser.add_argument(
        "--htng-fraction",
        type=float,
        default=0.02,
        help="share of reservations also in the HTNG archive (half newer, half older than the EDW), plus half"
        " as many archive-only reservations; 0 = no archive",
    )
    parser.add_argument(
        "--partition-by",
        choices=("none", "day", "month"),
        default="none",
        help=f"write the EDW extracts in {PARTITION_COLUMN}=<date> folders (the local date of each version's"
        " LAST_MOD_TS; its room-stay lines in the same folder), as date-partitioned extracts land",
    )
    parser.add_argument(
        "--bookings",
        metavar="PATH",
        help="the real hotel-booking dataset whose shapes the sample copies (hotels.csv.gz; default:"
        f" {DEFAULT_BOOKINGS}, or synthetic shapes when that file is absent)",
    )
    return parser
