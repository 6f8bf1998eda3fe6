"""One error hierarchy (digest/errors.py): the ingest's errors are DigestErrors with the
exit codes of the README's table, and keep the fields their callers read."""

from __future__ import annotations

from digest import errors
from digest.errors import DigestError, FetchError, InputError, ParseError
from digest.ingest import http, parsing


def test_fetch_and_parse_errors_live_in_the_one_hierarchy() -> None:
    assert FetchError.__module__ == ParseError.__module__ == "digest.errors"
    assert http.FetchError is errors.FetchError  # what HttpClient raises
    assert parsing.ParseError is errors.ParseError  # what the parsers raise
    assert FetchError.__mro__[1:] == (DigestError, Exception, BaseException, object)
    assert ParseError.__mro__[1:3] == (InputError, DigestError)


def test_their_exit_codes_and_fields() -> None:
    fetch = FetchError("https://x.org/feed: HTTP 404", permanent=True, status=404)
    assert (str(fetch), fetch.exit_code, fetch.permanent, fetch.status) == (
        "https://x.org/feed: HTTP 404",
        1,  # partial failure: one source failed, the others are stored
        True,
        404,
    )
    temporary = FetchError("https://x.org/feed: timed out")
    assert (temporary.permanent, temporary.status) == (False, None)
    assert ParseError("truncated gzip data").exit_code == 2  # invalid input
