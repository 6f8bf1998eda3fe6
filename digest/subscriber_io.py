"""Subscriber files: CSV and JSONL import/export that round-trip. Pure.

CSV columns are the fields of :class:`SubscriberSpec`; list fields hold values separated
by ``;`` (a literal ``;`` or ``\\`` inside a value is escaped with ``\\``). JSONL has one
object per line with lists as JSON arrays. Errors name the line they come from.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from digest.errors import InputError
from digest.subscriber_spec import LIST_FIELDS, SPEC_FIELDS, SubscriberSpec, validate_spec

FORMATS = ("csv", "jsonl")


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def guess_format(name: str) -> str:
    lowered = name.lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    raise InputError(f"cannot tell the format of {name!r} from its name; pass --format csv|jsonl")


def join_list(values: Iterable[str]) -> str:
    return ";".join(v.replace("\\", "\\\\").replace(";", "\\;") for v in values)


def split_list(cell: str) -> list[str]:
    values, current, escaped = [], [], False
    for ch in cell:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ";":
            values.append("".join(current))
            current = []
        else:
            current.append(ch)
    values.append("".join(current))
    return [v.strip() for v in values if v.strip()]


def read_rows(text: str, fmt: str) -> Iterator[tuple[int, dict[str, object] | RowError]]:
    """(line number, raw fields) per record, or (line number, RowError) for unreadable ones."""
    if fmt == "jsonl":
        for number, text_line in enumerate(text.splitlines(), start=1):
            if not text_line.strip():
                continue
            try:
                data = json.loads(text_line)
            except json.JSONDecodeError as exc:
                yield number, RowError(number, f"not valid JSON ({exc.msg})")
                continue
            if not isinstance(data, dict):
                yield number, RowError(number, "expected a JSON object")
                continue
            yield number, data
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or "email" not in [f.strip() for f in reader.fieldnames]:
        raise InputError("line 1: the CSV header must contain an 'email' column")
    start = 2
    try:
        for row in reader:
            line = start
            start = reader.line_num + 1
            if None in row:
                yield line, RowError(line, "more cells than header columns")
                continue
            fields: dict[str, object] = {}
            for key, value in row.items():
                key = (key or "").strip()
                value = value or ""
                fields[key] = split_list(value) if key in LIST_FIELDS else value.strip()
            if not any(fields.values()):
                continue
            yield line, fields
    except csv.Error as exc:
        yield start, RowError(start, f"malformed CSV ({exc})")


def parse_file(text: str, fmt: str) -> tuple[list[tuple[int, SubscriberSpec]], list[RowError]]:
    """Validate every row; duplicate addresses (ignoring case) are errors on later lines."""
    good: list[tuple[int, SubscriberSpec]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, item in read_rows(text, fmt):
        if isinstance(item, RowError):
            errors.append(item)
            continue
        try:
            spec = validate_spec(item)
        except InputError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        key = spec.email.casefold()
        if key in seen:
            errors.append(RowError(line, f"{spec.email} already appears on line {seen[key]}"))
            continue
        seen[key] = line
        good.append((line, spec))
    return good, errors


def spec_to_dict(spec: SubscriberSpec) -> dict[str, object]:
    return {
        f: list(getattr(spec, f)) if f in LIST_FIELDS else getattr(spec, f) for f in SPEC_FIELDS
    }


def write_jsonl(specs: Iterable[SubscriberSpec], out: io.TextIOBase) -> None:
    for spec in specs:
        out.write(json.dumps(spec_to_dict(spec), ensure_ascii=False) + "\n")


def write_csv(specs: Iterable[SubscriberSpec], out: io.TextIOBase) -> None:
    writer = csv.DictWriter(out, fieldnames=list(SPEC_FIELDS), lineterminator="\n")
    writer.writeheader()
    for spec in specs:
        row = spec_to_dict(spec)
        writer.writerow(
            {
                k: join_list(v) if isinstance(v, list) else ("" if v is None else v)
                for k, v in row.items()
            }
        )
