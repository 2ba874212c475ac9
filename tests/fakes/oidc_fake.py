"""A tiny OpenID Connect provider on 127.0.0.1: discovery, authorize (auto-consent), token (RS256 id_token), JWKS.

Enough for Streamlit's ``st.login`` (Authlib) to run its real authorization-code
flow offline: the browser is redirected here and straight back with a code; the
server exchanges it for an id_token signed with a key published at ``/jwks``. Like a
real provider, the token endpoint refuses a client that does not authenticate with
its secret (HTTP Basic or form fields) and a code redeemed for another redirect URI.
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any
from urllib.parse import unquote, urlencode

from fakes._http import FakeVenue, Reply, Request
from joserfc import jwt
from joserfc.jwk import RSAKey


class FakeOidcProvider(FakeVenue):
    """Signs in whoever comes: ``email`` is the identity it vouches for."""

    def __init__(self, client_id: str, client_secret: str, email: str = "carol@example.com") -> None:
        super().__init__()
        self.client_id, self.client_secret, self.email = client_id, client_secret, email
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        self.codes: dict[str, dict[str, Any]] = {}

    def route(self, req: Request) -> Reply:
        """Answer discovery, authorize, token and jwks requests."""
        if req.path == "/.well-known/openid-configuration":
            return Reply(200, {
                "issuer": self.url, "authorization_endpoint": f"{self.url}/authorize", "token_endpoint": f"{self.url}/token",
                "jwks_uri": f"{self.url}/jwks", "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            })
        if req.path == "/jwks":
            return Reply(200, {"keys": [self.key.as_dict(private=False)]})
        if req.path == "/authorize":
            if req.query.get("client_id") != self.client_id:
                return Reply(400, {"error": "unauthorized_client"})
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"nonce": req.query.get("nonce"), "redirect_uri": req.query["redirect_uri"]}
            target = req.query["redirect_uri"] + "?" + urlencode({"code": code, "state": req.query.get("state", "")})
            return Reply(302, "", {"Location": target}, content_type="text/plain")
        if req.path == "/token" and req.method == "POST":
            if self._client_credentials(req) != (self.client_id, self.client_secret):
                return Reply(401, {"error": "invalid_client"})
            grant = self.codes.pop(req.form.get("code", ""), None)
            if grant is None or grant["redirect_uri"] != req.form.get("redirect_uri"):
                return Reply(400, {"error": "invalid_grant"})
            now = int(time.time())
            claims = {"iss": self.url, "sub": "carol-1", "aud": self.client_id, "iat": now, "exp": now + 600, "email": self.email,
                      "email_verified": True, "name": "Carol", **({"nonce": grant["nonce"]} if grant["nonce"] else {})}
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
            return Reply(200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 600, "id_token": id_token})
        return Reply(404, {"error": "not found"})

    @staticmethod
    def _client_credentials(req: Request) -> tuple[str, str] | None:
        auth = next((v for k, v in req.headers.items() if k.lower() == "authorization"), "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return unquote(user), unquote(password)  # RFC 6749 2.3.1: form-urlencoded, then Basic
        if "client_id" in req.form:
            return req.form["client_id"], req.form.get("client_secret", "")
        return None
