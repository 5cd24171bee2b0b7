"""How the EDW writes values, in the several spellings real extracts mix (vectorised over numpy arrays)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def timestamps(values: np.ndarray, us_style: np.ndarray) -> np.ndarray:
    """``yyyy-mm-dd hh:mm:ss``, or ``mm/dd/yyyy hh:mm:ss`` where ``us_style``."""
    seconds = pd.Series(values.astype("datetime64[s]"))
    iso = seconds.dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()
    us = seconds.dt.strftime("%m/%d/%Y %H:%M:%S").to_numpy()
    return np.where(us_style, us, iso)


def dates(values: np.ndarray, compact: np.ndarray) -> np.ndarray:
    """``yyyy-mm-dd``, or ``yyyymmdd`` where ``compact``."""
    days = pd.Series(values.astype("datetime64[D]"))
    return np.where(compact, days.dt.strftime("%Y%m%d").to_numpy(), days.dt.strftime("%Y-%m-%d").to_numpy())


def amounts(values: np.ndarray, thousands: np.ndarray) -> np.ndarray:
    """Two decimals, with thousands separators where ``thousands`` and the amount has thousands."""
    plain = np.char.mod("%.2f", values)
    grouped = np.array([f"{v:,.2f}" for v in values]) if len(values) else plain
    return np.where(thousands & (values >= 1000), grouped, plain)


def luhn_pans(rng: np.random.Generator, n: int, kinds: np.ndarray) -> np.ndarray:
    """Valid-looking PANs (Luhn check digit) per card kind 0=VI, 1=MC, 2=AX."""
    prefixes = np.array(["4", "51", "37"])[kinds]
    lengths = np.array([16, 16, 15])[kinds]
    body = rng.integers(0, 10, (n, 15)).astype(str)
    out = []
    for prefix, length, digits in zip(prefixes, lengths, body, strict=False):
        partial = prefix + "".join(digits[: length - 1 - len(prefix)])
        total = 0
        for position, char in enumerate(reversed(partial)):
            digit = int(char)
            if position % 2 == 0:
                digit = digit * 2 - 9 if digit * 2 > 9 else digit * 2
            total += digit
        out.append(partial + str((10 - total % 10) % 10))
    return np.array(out)
