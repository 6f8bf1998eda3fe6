"""Header encoding: every value parses back to itself, folded, and nothing can inject a header."""

from __future__ import annotations

from email.header import decode_header, make_header

import pytest
from mailcheck import parse

from digest.errors import InputError
from digest.render import headers as h

VALUES = [
    "Plain ASCII subject",
    "Ünïcödé accents: café, naïve, Zoë Ångström",
    "中文标题：大型语言模型的推理能力研究",
    "山田 太郎",
    "王小明",
    "日本語のタイトル、とても長いタイトルがここに続きます。さらに続きます。もっと続きます。",
    "عنوان باللغة العربية عن نماذج اللغة",
    "כותרת בעברית על מודלים של שפה",
    "Emoji 🚀🔥 rocket science 👍🏽 and a ZWJ family 👨‍👩‍👧",
    "Looks encoded =?utf-8?q?evil?= but is not",
    "trailing ?= and =? leading",
    "x" * 150,
    "word " * 60,
    "Quotes \"double\" and 'single' & ampersand <angle> {{ jinja }} {% tag %}",
    "tab\tand  multiple   spaces",
]


def _parsed(header_bytes: str, name: str) -> str:
    msg = parse((header_bytes + "\r\n").encode("utf-8"))
    return str(msg[name])


@pytest.mark.parametrize("value", VALUES)
def test_unstructured_round_trips(value: str) -> None:
    line = h.unstructured("Subject", value)
    assert _parsed(line, "Subject") == h.clean(value)
    for physical in line.split("\r\n")[:-1]:
        assert len(physical) <= 78, physical


def _rfc2047(value: str) -> str:
    """What an RFC 2047 decoder shows (adjacent encoded words joined without space)."""
    return str(make_header(decode_header(value.replace("\r\n", ""))))


@pytest.mark.parametrize("value", VALUES)
def test_display_names_round_trip(value: str) -> None:
    line = h.address("To", value, "reader@example.org")
    msg = parse((line + "\r\n").encode("utf-8"))
    (addr,) = msg["To"].addresses
    assert addr.addr_spec == "reader@example.org"
    expected = h.clean(value)
    if "=?" in line:
        assert _rfc2047(line.split(":", 1)[1]).strip() == f"{expected} <reader@example.org>"
    # Python's address parser puts a space between adjacent encoded words (RFC 2047 says
    # to drop it). Words are cut after spaces, so it shows the same words; only a single
    # word too long for one encoded word (unspaced CJK) shows extra spaces there.
    assert addr.display_name.replace(" ", "") == expected.replace(" ", "")
    if line.count("=?") <= 1 or " " in expected:
        assert addr.display_name.split() == expected.split()
    if line.count("=?") <= 1:
        assert addr.display_name == expected
    assert line.rstrip("\r\n").endswith("<reader@example.org>")
    for physical in line.split("\r\n")[:-1]:
        assert len(physical) <= 998


def test_line_breaks_cannot_inject_headers() -> None:
    evil = "Eve\r\nBcc: victim@example.org\r\n\r\nbody"
    data = (
        h.address("To", evil, "eve@example.org") + h.unstructured("Subject", evil) + "\r\nbody\r\n"
    )
    msg = parse(data.encode())
    assert msg["Bcc"] is None
    assert [k for k, _ in msg.items()] == ["To", "Subject"]
    assert str(msg["Subject"]) == "Eve Bcc: victim@example.org body"
    assert msg["To"].addresses[0].display_name == "Eve Bcc: victim@example.org body"


def test_clean_drops_controls_and_collapses_whitespace() -> None:
    assert h.clean("a\r\nb\x00c\x1b[31m\u2028d\x85e  f\t") == "a bc[31m d e f"
    assert h.clean(" x \x00 y ") == "x y"


def test_encoded_word_lookalikes_are_encoded_not_passed_through() -> None:
    line = h.unstructured("Subject", "=?utf-8?b?SGFja2Vk?=")
    assert "SGFja2Vk" not in line
    assert _parsed(line, "Subject") == "=?utf-8?b?SGFja2Vk?="


def test_plain_ascii_stays_readable() -> None:
    assert (
        h.unstructured("Subject", "10 new papers for you") == "Subject: 10 new papers for you\r\n"
    )
    assert (
        h.address("From", "Paper Digest", "d@example.org")
        == "From: Paper Digest <d@example.org>\r\n"
    )
    quoted = h.address("To", "Doe, Jane", "j@example.org")
    assert quoted == 'To: "Doe, Jane" <j@example.org>\r\n'


@pytest.mark.parametrize(
    "addr",
    [
        "no-at-sign",
        "a@b@c",
        "eve@example.org\r\nBcc: x@example.org",
        "eve@example.org>, <x@example.org",
        "a b@example.org",
        "@example.org",
        "eve@",
        "eve@exa mple.org",
    ],
)
def test_bad_addresses_are_refused(addr: str) -> None:
    with pytest.raises(InputError):
        h.address("To", "Eve", addr)


def test_internationalized_addresses() -> None:
    line = h.address("To", "", "user@bücher.example")
    assert line == "To: user@xn--bcher-kva.example\r\n"
    utf8 = h.address("To", "Jürgen", "jürgen@example.org")
    assert "jürgen@example.org" in utf8  # RFC 6532: the UTF-8 local part is sent as is


def test_structured_values_are_checked() -> None:
    assert h.header("Message-ID", "<a.1@example.org>") == "Message-ID: <a.1@example.org>\r\n"
    for bad in ("<a@b>\r\nX: y", "<a@b>\n", "<é@b>", "x" * 1000):
        with pytest.raises(InputError):
            h.header("Message-ID", bad)
