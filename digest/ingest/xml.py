"""Safe XML parsing for the Atom/RSS parsers: no DTDs or entities, one clear error type."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from digest.ingest.parsing import ParseError, check_size

DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
DC = "{http://purl.org/dc/elements/1.1/}"


def parse_xml(data: bytes) -> ET.Element:
    """The root element; a DTD (entity expansion attacks) or broken XML is a ParseError."""
    check_size(data)
    if DOCTYPE.search(data[:4096]):
        raise ParseError("XML with a DOCTYPE or ENTITY declaration is refused")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise ParseError(f"not well-formed XML ({exc})") from None
    except (LookupError, ValueError, UnicodeError) as exc:  # unknown or wrong encoding
        raise ParseError(f"unreadable XML ({exc})") from None


def child_text(element: ET.Element, tag: str) -> str:
    """The text of the first child ``tag`` (all nested text, for mixed content), or ''."""
    child = element.find(tag)
    if child is None:
        return ""
    return "".join(child.itertext())
