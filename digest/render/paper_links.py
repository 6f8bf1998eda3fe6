"""The links a paper card shows, found in what ingestion stored. Pure.

Code: the repository Hugging Face names (``links["github"]``), else a GitHub or GitLab
repository named in the arXiv comment ("Code: https://github.com/..."), else one in the
abstract ("code is available at https://github.com/..."). Project page: the one Hugging
Face names (``links["project"]``), else a ``github.io`` page or one called a project page
in the comment or abstract. Counts as readers know them ("1.2k").
"""

from __future__ import annotations

import hashlib
import re

_REPO = re.compile(
    r"https?://(?:www\.)?(github\.com|gitlab\.com)/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)", re.I
)
_URL = re.compile(r"https?://[^\s<>\"'{}|\\^`]+", re.I)
_PROJECT_CUE = re.compile(r"project\s*(?:page|website|site)|web\s*page|website|homepage", re.I)
_NOT_OWNER = frozenset(("orgs", "topics", "search", "features", "marketplace", "about"))
_ANCHOR_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def _trim(url: str) -> str:
    """A URL as found in prose, without the punctuation that ends the sentence."""
    url = url.rstrip(".,;:!?'\"”’")
    while url.endswith(")") and url.count("(") < url.count(")"):
        url = url[:-1].rstrip(".,;:")
    while url.endswith("]") and url.count("[") < url.count("]"):
        url = url[:-1].rstrip(".,;:")
    return url


def repository_in(text: str | None) -> str:
    """The first GitHub or GitLab repository named in ``text``, as ``https://host/o/r``."""
    for match in _REPO.finditer(text or ""):
        host, owner, name = match.groups()
        name = _trim(name).removesuffix(".git")
        if owner.lower() in _NOT_OWNER or not name or name in (".", ".."):
            continue
        return f"https://{host.lower()}/{owner}/{name}"
    return ""


def project_in(text: str | None, code: str = "") -> str:
    """A project page named in ``text``: a ``github.io`` page, or a URL in a sentence
    that calls it a project page or website (never the code repository)."""
    if not text:
        return ""
    for match in _URL.finditer(text):
        url = _trim(match.group(0))
        host = url.split("/", 3)[2].lower() if url.count("/") >= 2 else ""
        if not host or (code and url.rstrip("/").lower() == code.lower()):
            continue
        if host in ("github.com", "gitlab.com", "www.github.com", "arxiv.org", "doi.org"):
            continue
        before = text[max(0, match.start() - 60) : match.start()]
        if host.endswith(".github.io") or _PROJECT_CUE.search(before):
            return url
    return ""


def code_label(url: str) -> str:
    """What the code link says: "GitHub", "GitLab" or "Code"."""
    host = url.split("/", 3)[2].lower() if url.count("/") >= 2 else ""
    if host.endswith("github.com"):
        return "GitHub"
    if host.endswith("gitlab.com"):
        return "GitLab"
    return "Code"


def compact_count(n: int | None) -> str:
    """A count as readers know them: 987, 1.2k, 12.3k, 123k, 1.2M ("" for none)."""
    if not n or n < 0:
        return ""
    if n < 1000:
        return str(n)
    for unit, size in (("k", 1_000), ("M", 1_000_000), ("B", 1_000_000_000)):
        value = n / size
        if value < 999.95 or unit == "B":
            text = f"{value:.1f}" if value < 99.95 else f"{value:.0f}"
            return text.removesuffix(".0") + unit
    return str(n)  # pragma: no cover (the loop always returns)


def anchor(paper_id: str) -> str:
    """An HTML id for the paper's card, safe in an ``id`` and a ``#fragment``."""
    safe = _ANCHOR_UNSAFE.sub("-", paper_id)
    if safe != paper_id:  # ids that differ only in punctuation stay apart
        safe += "-" + hashlib.sha1(paper_id.encode()).hexdigest()[:6]
    return "p-" + safe
