"""Short-lived TURN credentials in the TURN REST scheme that coturn implements (``use-auth-secret``).

The username is ``"<unix expiry>:<user id>"`` and the credential ``base64(HMAC-SHA1(secret,
username))``: coturn checks both with the shared secret and refuses the pair after its expiry, so a
credential that leaks from a browser is worth minutes, not forever, and names whose it was.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime


def turn_credentials(secret: str, user_id: int, expires: datetime) -> tuple[str, str]:
    """(username, credential) for ``user_id``, valid until ``expires``."""
    username = f"{int(expires.timestamp())}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")
