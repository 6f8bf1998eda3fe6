"""Short feedback links (``digest/links.py``): a delivery id and a paper's position, a
link-id hint and a 64-bit tag over the reader's current link id and the paper."""

from __future__ import annotations

import base64
import secrets
import string

import pytest

from digest.links import FeedbackRef, LinkError, LinkSigner

BASE = "https://digest.example.org"
SIGNER = LinkSigner("test-secret-key-0123456789", BASE)
LINK = "AbCdEfGhIjKlMnOpQrStUv"  # as long as a real one (secrets.token_urlsafe(16))
PAPERS = ["2505.12345", 'doi:10.1/é"x', "title:a paper", *(f"2505.{n:05d}" for n in range(97))]


def token_of(url: str) -> str:
    return url.removeprefix(BASE + "/f/").rsplit("/", 1)[0]


def short(paper: str = "2505.12345", vote: str = "up", *, delivery: int = 4242) -> str:
    return SIGNER.feedback(LINK, paper, vote, delivery_id=delivery, papers=PAPERS)


def test_a_short_link_names_delivery_and_position_and_verifies_for_its_reader() -> None:
    for position, paper in enumerate(PAPERS):
        url = short(paper)
        token = token_of(url)
        assert "." not in token
        ref = SIGNER.feedback_ref(token)
        assert (ref.delivery_id, ref.position) == (4242, position)
        assert SIGNER.check_feedback(ref, LINK, paper) == "valid"
    # both votes share the token (the vote is outside the signature, as in the long form)
    assert short(vote="down") == short(vote="up").removesuffix("/up") + "/down"
    with pytest.raises(ValueError):
        short(vote="sideways")


@pytest.mark.parametrize("delivery", [1, 255, 256, 65_535, 2**24, 2**31 - 1, 2**63])
def test_short_links_fit_a_text_line(delivery: int) -> None:
    up, down = short(delivery=delivery), short(vote="down", delivery=delivery)
    assert len(up) <= len(down) <= (53 if delivery < 2**32 else 58), down
    assert SIGNER.feedback_ref(token_of(down)).delivery_id == delivery
    # the long form they replace: over 100 characters
    assert len(SIGNER.feedback(LINK, "2505.12345", "down")) > 100


def test_without_a_delivery_or_for_another_paper_the_long_form_is_used() -> None:
    long = SIGNER.feedback(LINK, "2505.12345", "up")
    assert long == f"{BASE}/f/{SIGNER.token('feedback', [LINK, '2505.12345'])}/up"
    assert SIGNER.feedback(LINK, "2505.99999", "up", delivery_id=7, papers=PAPERS).count(".") > 2
    assert SIGNER.feedback(LINK, "2505.12345", "up", delivery_id=None, papers=PAPERS) == long
    many = [f"p{n}" for n in range(300)]  # positions past 255 do not fit the byte
    url = SIGNER.feedback_links(LINK, delivery_id=7, papers=many)
    assert "." not in token_of(url("p255", "up")) and "." in token_of(url("p256", "up"))
    assert SIGNER.verify("feedback", token_of(url("p256", "up"))) == [LINK, "p256"]


def test_every_one_character_change_is_refused() -> None:
    token = token_of(short())
    alphabet = string.ascii_letters + string.digits + "-_"
    for at in range(len(token)):
        for char in alphabet:
            if char == token[at]:
                continue
            forged = token[:at] + char + token[at + 1 :]
            try:
                ref = SIGNER.feedback_ref(forged)
            except LinkError:
                continue
            # parsed: it names some delivery and position, but its tag is not theirs
            paper = PAPERS[ref.position] if ref.position < len(PAPERS) else "2505.12345"
            assert SIGNER.check_feedback(ref, LINK, paper) != "valid", forged


@pytest.mark.parametrize(
    "bad", ["", "garbage", "A" * 14, "A" * 25, "AAAAAAAAAAAAAAAA!", "AAAAAAAAAAAAAAAA=="]
)
def test_malformed_short_tokens_are_refused(bad: str) -> None:
    with pytest.raises(LinkError, match="invalid or tampered feedback link"):
        SIGNER.feedback_ref(bad)


def test_one_spelling_per_token() -> None:
    raw = base64.urlsafe_b64decode(token_of(short()) + "=")
    padded = raw[:2] + b"\x00" + raw[2:]  # the same delivery id with a leading zero byte
    with pytest.raises(LinkError):
        SIGNER.feedback_ref(base64.urlsafe_b64encode(padded).rstrip(b"=").decode())
    zero = raw[:2] + b"\x00" + raw[-8:]  # delivery 0
    with pytest.raises(LinkError):
        SIGNER.feedback_ref(base64.urlsafe_b64encode(zero).rstrip(b"=").decode())
    token = token_of(short(delivery=1))  # 11 bytes: the last character has 2 spare bits
    assert len(token) == 15
    last = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    spare = last[last.index(token[-1]) + 1]
    with pytest.raises(LinkError):
        SIGNER.feedback_ref(token[:-1] + spare)


def test_the_tag_binds_paper_position_delivery_reader_and_key() -> None:
    ref = SIGNER.feedback_ref(token_of(short("2505.12345")))
    assert SIGNER.check_feedback(ref, LINK, 'doi:10.1/é"x') == "invalid"
    moved = FeedbackRef(ref.delivery_id, ref.position + 1, ref.hint, ref.tag)
    assert SIGNER.check_feedback(moved, LINK, "2505.12345") == "invalid"
    other = FeedbackRef(ref.delivery_id + 1, ref.position, ref.hint, ref.tag)
    assert SIGNER.check_feedback(other, LINK, "2505.12345") == "invalid"
    hinted = FeedbackRef(ref.delivery_id, ref.position, ref.hint ^ 1, ref.tag)
    assert SIGNER.check_feedback(hinted, LINK, "2505.12345") == "invalid"
    elsewhere = LinkSigner("another-secret-key-987654321", BASE)
    assert elsewhere.check_feedback(ref, LINK, "2505.12345") != "valid"


def test_replacing_the_link_id_revokes_short_links() -> None:
    ref = SIGNER.feedback_ref(token_of(short()))
    verdicts = [
        SIGNER.check_feedback(ref, secrets.token_urlsafe(16), "2505.12345") for _ in range(2000)
    ]
    assert "valid" not in verdicts
    # told apart from tampering by the one-byte hint: all but about 1 in 256 say so
    assert verdicts.count("replaced") > 1900, verdicts.count("invalid")
    assert SIGNER.check_feedback(ref, "BbCdEfGhIjKlMnOpQrStUv", "2505.12345") == "replaced"
    assert SIGNER.check_feedback(ref, LINK, "2505.12345") == "valid"
