"""Safe XML parsing for the Atom/RSS parsers: no DTDs or entities, one clear error type.

defusedxml's parser refuses a DTD and any entity declaration wherever it appears in the
document (not only in its first bytes), so nothing is ever expanded; an HTML page is told
apart from broken XML with its own message.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from digest.errors import ParseError
from digest.ingest.parsing import check_size, is_html_page

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
DC = "{http://purl.org/dc/elements/1.1/}"


def parse_xml(data: bytes) -> ET.Element:
    """The root element; a DTD (entity expansion attacks) or broken XML is a ParseError."""
    check_size(data)
    if is_html_page(data):
        raise ParseError("expected RSS or Atom, got an HTML page")
    try:
        return fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise ParseError("XML with a DOCTYPE or ENTITY declaration is refused") from None
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
