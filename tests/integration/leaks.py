"""What must never appear in an output: the generated guests' card numbers, emails, names and phones, and
the key material, each in its usual spellings. Values are read from the generated input files themselves
(not from the job), so a scan finds what the job would have let through."""

from __future__ import annotations

import base64
import csv
import gzip
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick
import pyarrow.parquet as pq

# A number on its own: not a digit run inside a hex digest or an identifier, nor a part of a decimal number
# (a float such as a timing or a fraction in the manifest, 0.1603071909994469, has 16 digits after its
# point, and one in ten such runs passes Luhn).
_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])(?<!\d\.)\d{13,19}(?![0-9A-Za-z])(?!\.\d)")


@dataclass
class Secrets:
    pans: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)  # "First Last"
    phones: set[str] = field(default_factory=set)
    keys: dict[str, bytes] = field(default_factory=dict)  # what -> key bytes

    def add_key(self, what: str, key: bytes) -> None:
        self.keys[what] = key

    def spellings(self) -> dict[str, str]:
        """Text to look for -> what it is."""
        out = {p: "pan" for p in self.pans}
        out |= {e: "email" for e in self.emails}
        out |= {n: "name" for n in self.names}
        out |= {p: "phone" for p in self.phones}
        for what, key in self.keys.items():
            for form in (key.hex(), key.hex().upper(), base64.b64encode(key).decode()):
                out[form] = what
        return out


def input_rows(data_dir: Path, extract: str = "reservations", *, with_folder: bool = False) -> list[dict[str, str]]:
    """The rows of an EDW extract, flat or in ``<column>=<date>`` folders (``_folder``: the folder's value)."""
    rows: list[dict[str, str]] = []
    for path in sorted(p for p in (data_dir / "edw" / extract).rglob("part-*") if p.is_file()):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
            found = list(csv.DictReader(fh, delimiter="|", quoting=csv.QUOTE_NONE))
        if with_folder:
            for row in found:
                row["_folder"] = path.parent.name.partition("=")[2]
        rows += found
    return rows


def htng_texts(data_dir: Path) -> list[str]:
    texts = []
    for path in (data_dir / "htng").rglob("*.xml*"):
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as fh:
                try:
                    raw = fh.read()
                except EOFError:  # the truncated one among the hostile documents
                    continue
        texts.append(raw.decode("utf-8", "replace"))
    return texts


def htng_pans(data_dir: Path) -> set[str]:
    """Card numbers in the archive: CardNumber="…" attributes and <PlainText> elements (gzip or not)."""
    found: set[str] = set()
    for text in htng_texts(data_dir):
        found |= set(re.findall(r'CardNumber="(\d{13,19})"', text))
        found |= set(re.findall(r"PlainText>(\d{13,19})<", text))
    return found


def generated_secrets(data_dir: Path) -> Secrets:
    found = Secrets()
    for r in input_rows(data_dir):
        card = r["CARD_NO"].strip()
        if card.isdigit() and len(card) >= 13:
            found.pans.add(card)
        if "@" in r["GUEST_EMAIL"]:
            found.emails.add(r["GUEST_EMAIL"].strip().lower())
        first, last = r["GUEST_FIRST_NM"].strip(), r["GUEST_LAST_NM"].strip()
        if first and last and first.upper() not in ("NULL", "N/A"):
            found.names.add(f"{first} {last}")
        if len(r["GUEST_PHONE"].strip()) >= 8:
            found.phones.add(r["GUEST_PHONE"].strip())
    found.pans |= htng_pans(data_dir)
    for text in htng_texts(data_dir):
        found.emails |= {e.strip().lower() for e in re.findall(r"Email>([^<]+@[^<]+)</", text)}
        found.names |= {
            f"{g} {s}" for g, s in re.findall(r"GivenName>([^<]+)</(?:\w+:)?GivenName><(?:\w+:)?Surname>([^<]+)<", text)
        }
    return found


def leaks(text: str, secrets: Secrets) -> list[str]:
    """What of ``secrets`` is in ``text`` (case-insensitively for emails), as "kind: value[:4]…".

    One Aho-Corasick pass over the lower-cased text finds every value whose lower-cased form occurs (a
    superset); each of those is then looked for as it is spelled, except emails (a run's outputs are many
    megabytes and the values thousands: one substring search per value was most of the PII test's time)."""
    lowered = text.lower()
    spellings = secrets.spellings()
    automaton = ahocorasick.Automaton()
    for value in spellings:
        folded = value.lower()
        automaton.add_word(folded, [*automaton.get(folded, []), value])
    automaton.make_automaton()
    candidates = {value for _, values in automaton.iter(lowered) for value in values}
    return [
        f"{kind}: {value[:4]}…"
        for value, kind in spellings.items()
        if value in candidates and (kind == "email" or value in text)
    ]


def occurring(needles: Iterable[str], haystack: bytes) -> list[str]:
    """The needles whose UTF-8 bytes occur in ``haystack``, in one Aho-Corasick pass (both sides decoded as
    Latin-1, one character per byte, so a match is a byte-for-byte match); ``needle.encode() in haystack``
    for each needle costs a scan of the whole haystack per needle."""
    automaton = ahocorasick.Automaton()
    for needle in needles:
        automaton.add_word(needle.encode().decode("latin-1"), needle)
    if not len(automaton):
        return []
    automaton.make_automaton()
    return sorted({needle for _, needle in automaton.iter(haystack.decode("latin-1"))})


def luhn_numbers(text: str) -> list[str]:
    """13-19-digit runs that pass the Luhn check: card numbers, whoever's."""
    return [run for run in _DIGIT_RUN.findall(text) if _luhn(run)]


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def folder_text(folder: Path) -> str:
    """Every file under ``folder`` as text: Parquet decoded to its values (its pages are compressed), gzip
    opened, everything else as bytes read as UTF-8."""
    parts = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            parts.append(repr(pq.read_table(path).to_pylist()))
        elif path.suffix == ".gz":
            parts.append(gzip.decompress(path.read_bytes()).decode("utf-8", "replace"))
        else:
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def folder_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
