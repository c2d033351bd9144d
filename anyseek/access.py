"""Who may use a server: its access mode, from its API keys and the address it is bound to.

Bound to anything but loopback with no API key, anyone who can reach the port may delete a
collection; like Redis's protected mode, such a server does not start unless
``ANYSEEK_API__ALLOW_OPEN`` says so (:func:`check_open`), and it says which mode it is in
(``GET /v1/model``'s ``access``, shown on the web page).
"""

from __future__ import annotations

import ipaddress

from anyseek.errors import SettingsError
from anyseek.settings import ApiSettings

KEYS = "keys"  # API keys configured: writes need one (reads too with ANYSEEK_API__AUTH_READS)
LOCAL = "open-local"  # no key, bound to loopback: only this machine reaches it
OPEN = "open-network"  # no key, bound beyond loopback by ANYSEEK_API__ALLOW_OPEN
HOW_TO_KEY = (
    "set an API key (ANYSEEK_API__API_KEYS='[\"a-long-random-secret\"]'; clients send it in "
    "the X-API-Key header), bind to 127.0.0.1, or set ANYSEEK_API__ALLOW_OPEN=1 to serve with "
    "no key on purpose"
)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost`` (never ``0.0.0.0`` or a name)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def access_mode(api: ApiSettings) -> str:
    """The server's mode: keys, open to this machine only, or open to the network."""
    if api.api_keys:
        return KEYS
    return LOCAL if is_loopback(api.host) else OPEN


def check_open(api: ApiSettings) -> str:
    """The mode a server may start in; bound beyond loopback with no key and no opt-in, an
    error saying how to set a key."""
    mode = access_mode(api)
    if mode == OPEN and not api.allow_open:
        raise SettingsError(
            f"refusing to serve on {api.host} with no API key: anyone who can reach port "
            f"{api.port} could change or delete every collection; {HOW_TO_KEY}"
        )
    return mode
