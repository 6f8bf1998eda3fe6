"""Compatibility: the JSONL parser moved to :mod:`digest.ingest.parse_jsonl`."""

from digest.ingest.parse_jsonl import ParseResult, paper_from_dict, parse_jsonl, read_lines

__all__ = ["ParseResult", "paper_from_dict", "parse_jsonl", "read_lines"]
