"""The server's credential: generated once, private to its user, sent to its own server only;
an API without it is never bound beyond loopback."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from rendezvous.server_auth import CREDENTIAL_FILE, ServerAuthError, client_auth, security_env


def test_the_credential_is_private_stable_and_sent_to_its_own_server_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_SERVER_API_AUTH_STRING", raising=False)
    env = security_env(tmp_path, "127.0.0.1", 4311)
    user, password = env["PREFECT_SERVER_API_AUTH_STRING"].split(":")
    assert user == "rendezvous" and len(password) >= 32
    assert stat.S_IMODE((tmp_path / CREDENTIAL_FILE).stat().st_mode) == 0o600
    assert env["PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS"] == "http://127.0.0.1:4311"
    assert env["PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED"] == "true"
    assert security_env(tmp_path, "127.0.0.1", 4312)["PREFECT_SERVER_API_AUTH_STRING"] == f"{user}:{password}"
    assert client_auth(tmp_path, "http://127.0.0.1:4312/api/") == f"{user}:{password}"
    for elsewhere in (
        "http://127.0.0.1:4311/api",
        "https://evil.example:4312/api",
        "http://10.0.0.1:4312/api",
    ):
        assert client_auth(tmp_path, elsewhere) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "prefect.example"])
def test_an_open_api_beyond_loopback_is_refused(tmp_path: Path, host: str) -> None:
    with pytest.raises(ServerAuthError, match="without authentication"):
        security_env(tmp_path, host, 4200, auth=False)
    assert not (tmp_path / CREDENTIAL_FILE).exists()
    assert "PREFECT_SERVER_API_AUTH_STRING" in security_env(tmp_path, host, 4200)
    assert "PREFECT_SERVER_API_AUTH_STRING" not in security_env(tmp_path, "::1", 4200, auth=False)
