"""DKIM signing (dkimpy), the last step of building a message.

The signature covers the headers a receiver judges a bulk sender by: ``From``, ``To``,
``Subject``, ``Date``, ``Message-ID``, the list headers and the MIME structure. dkimpy's
default list omits ``List-Unsubscribe-Post``; without it a relay could strip the one-click
header without breaking the signature, so Gmail and Yahoo do not trust one-click
unsubscribe. It is listed here explicitly. Headers listed but absent from a message are
signed as absent (RFC 6376 5.4), so nobody can add them later either.

Canonicalization is relaxed for headers (relays refold them) and simple for the body: our
bodies are quoted-printable with CRLF line endings and no trailing white space, which
relays leave alone, and simple costs a fraction of relaxed on a 60 KB body. dkimpy signs
with pure-Python RSA: about two modular exponentiations of 1024 bits per message, the
bulk of the signing time.
"""

from __future__ import annotations

from digest.errors import ConfigError

SIGNED_HEADERS = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "feedback-id",
    "mime-version",
    "content-type",
)


def _dkim():  # type: ignore[no-untyped-def]
    try:
        import dkim
    except ImportError:  # pragma: no cover - depends on the installation
        raise ConfigError(
            "DIGEST_DKIM_KEY_FILE: DKIM signing needs dkimpy (pip install 'digest[dkim]')"
        ) from None
    return dkim


def check_private_key(key: bytes, source: str = "DIGEST_DKIM_KEY_FILE") -> None:
    """Raise a one-line ConfigError unless ``key`` is a PEM RSA private key dkimpy can use."""
    crypto = _dkim().crypto
    try:
        parsed = crypto.parse_pem_private_key(key)
    except Exception:  # dkimpy raises several kinds for malformed input
        parsed = None
    if not parsed:
        raise ConfigError(f"{source}: not a PEM RSA private key")
    bits = int(parsed["modulus"]).bit_length()
    if bits < 1024:
        raise ConfigError(f"{source}: the RSA key has {bits} bits; receivers require 1024+")


class DkimSigner:
    """Signs finished messages for one selector and domain."""

    def __init__(self, selector: str, domain: str, key: bytes):
        check_private_key(key)
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("ascii")
        self.key = key
        self._dkim = _dkim()

    def signature(self, data: bytes) -> bytes:
        """The ``DKIM-Signature`` header line(s) for ``data``, CRLF-terminated."""
        signer = self._dkim.DKIM(data, linesep=b"\r\n")
        header = signer.sign(
            self.selector,
            self.domain,
            self.key,
            canonicalize=(b"relaxed", b"simple"),
            include_headers=[h.encode("ascii") for h in SIGNED_HEADERS],
        )
        return header if header.endswith(b"\r\n") else header + b"\r\n"

    def sign(self, data: bytes) -> bytes:
        """``data`` with its DKIM-Signature header prepended."""
        return self.signature(data) + data
