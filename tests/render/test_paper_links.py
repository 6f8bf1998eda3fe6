"""Links a card shows, found in what ingestion stored; counts as readers know them."""

from __future__ import annotations

import pytest

from digest.render.paper_links import (
    anchor,
    code_label,
    compact_count,
    project_in,
    repository_in,
)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (None, ""),
        (0, ""),
        (7, "7"),
        (999, "999"),
        (1000, "1k"),
        (1234, "1.2k"),
        (12_345, "12.3k"),
        (99_960, "100k"),
        (123_456, "123k"),
        (999_999, "1M"),
        (1_260_000, "1.3M"),
    ],
)
def test_compact_count(n: int | None, text: str) -> None:
    assert compact_count(n) == text


def test_repository_in_comment_and_abstract() -> None:
    assert repository_in("Code: https://github.com/Org/Repo.") == "https://github.com/Org/Repo"
    assert (
        repository_in("available at (https://github.com/a/b.git), and more")
        == "https://github.com/a/b"
    )
    assert repository_in("see https://gitlab.com/g/p/-/tree/main") == "https://gitlab.com/g/p"
    assert repository_in("https://github.com/orgs/x and https://github.com/x/y") == (
        "https://github.com/x/y"
    )
    assert repository_in("no link here") == repository_in(None) == ""
    assert code_label("https://gitlab.com/g/p") == "GitLab"
    assert code_label("https://github.com/a/b") == "GitHub"


def test_project_pages() -> None:
    assert project_in("Project page: https://foo.org/bar.") == "https://foo.org/bar"
    assert project_in("demos at https://me.github.io/x/") == "https://me.github.io/x/"
    assert project_in("see https://example.org/data") == ""  # not called a project page
    assert project_in("website: https://github.com/a/b", "https://github.com/a/b") == ""


def test_anchor_is_a_safe_id() -> None:
    assert anchor("2505.22682") == "p-2505.22682"
    odd = anchor("doi:10.1/x y")
    assert odd.startswith("p-doi-10.1-x-y-") and " " not in odd and ":" not in odd
    assert anchor("doi:10.1/x y") != anchor("doi:10.1/x:y")
