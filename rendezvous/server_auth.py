"""A Prefect server that is not open: its API credential, CORS and CSRF settings.

Anyone who reaches an open Prefect API can resume a paused promotion or start a deployment run,
and any web page open in the operator's browser can do it for them. The server `rendezvous`
starts therefore requires a credential (Prefect's API authentication), generated once per home
and kept mode 0600 beside Prefect's state; commands of that home send it to that server only
(the URL it was recorded for). The server answers cross-origin requests from its own origin
only, and asks browsers' requests for a CSRF token.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from rendezvous.filemodes import write_private

CREDENTIAL_FILE = "api-auth.json"
USER = "rendezvous"


class ServerAuthError(RuntimeError):
    """The server cannot be started as asked (an open API on a reachable address)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read(state_dir: Path) -> dict[str, str]:
    try:
        return json.loads((state_dir / CREDENTIAL_FILE).read_text())
    except (OSError, ValueError):
        return {}


def security_env(state_dir: Path, host: str, port: int, auth: bool = True) -> dict[str, str]:
    """The security settings of a server on ``host:port`` whose state is in ``state_dir``.

    With ``auth``, the home's credential (generated on first use; an operator's own
    PREFECT_SERVER_API_AUTH_STRING wins) is required, and recorded for this server's URL. Without
    it, only a loopback address may be bound.
    """
    if not auth and not is_loopback(host):
        raise ServerAuthError(
            f"refusing to serve Prefect's API on {host} without authentication: anyone who reaches "
            "it could approve promotions and run commands on the workers; drop --no-auth"
        )
    # a server bound to every address is reached, by this home's commands and its UI, on loopback
    origin = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    env = {
        "PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS": origin,
        "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "true",
    }
    if auth:
        auth_string = os.environ.get("PREFECT_SERVER_API_AUTH_STRING") or stored_credential(state_dir)
        auth_string = auth_string or f"{USER}:{secrets.token_urlsafe(32)}"
        record = {"auth_string": auth_string, "api_url": f"{origin}/api"}
        write_private(state_dir / CREDENTIAL_FILE, json.dumps(record).encode())
        env["PREFECT_SERVER_API_AUTH_STRING"] = auth_string
    return env


def stored_credential(state_dir: Path) -> str | None:
    """The credential of this home's server (user:password), None before its first start."""
    return _read(state_dir).get("auth_string")


def client_auth(state_dir: Path, api_url: str) -> str | None:
    """The credential of this home's server, if ``api_url`` is the URL it was recorded for."""
    stored = _read(state_dir)
    recorded = stored.get("api_url")
    if not recorded or not stored.get("auth_string"):
        return None
    same = urlsplit(recorded.rstrip("/"))[:3] == urlsplit(api_url.rstrip("/"))[:3]
    return stored["auth_string"] if same else None
