"""The secret parts of an Apprise URL, for log redaction and masked display.

An Apprise URL carries its credentials in places that differ by service: a Telegram bot
token where a host would be (``tgram://123:AAH.../chat``), a Discord webhook token in the
path, an ntfy topic (whoever knows it can read it), a password in the user part, a token in
the query. So every piece of the URL that looks like a token — at least 8 characters mixing
letters and digits — is treated as a secret, as is the password of the user part and the
whole URL. Host names (``ntfy.sh``) and addresses (``127.0.0.1``) do not look like tokens,
which keeps redaction from blanking every mention of a common host in the logs.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

_PIECES = re.compile(r"[/:@?&=#,;+ ]")
_MIN_TOKEN = 8


def url_secrets(url: str) -> list[str]:
    """The URL itself and each secret-looking part of it, longest first."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        rest = scheme
    found = {url}
    userinfo = rest.split("/", 1)[0].rpartition("@")[0]
    password = userinfo.partition(":")[2]
    if password:
        found.add(unquote(password))
        found.add(password)
    for piece in _PIECES.split(rest):
        for form in {piece, unquote(piece)}:
            if _looks_like_token(form):
                found.add(form)
    return sorted(found, key=len, reverse=True)


def masked_alert_url(url: str) -> str:
    """The URL as shown to people: which service and host, every secret part masked."""
    masked = url
    for secret in url_secrets(url)[1:] if "://" in url else url_secrets(url):
        masked = masked.replace(secret, "****")
    return masked


def _looks_like_token(piece: str) -> bool:
    return (
        len(piece) >= _MIN_TOKEN
        and any(c.isdigit() for c in piece)
        and any(c.isalpha() for c in piece)
    )
