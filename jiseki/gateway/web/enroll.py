"""Agent enrollment over HTTPS: the root CA (for the agent to check against its pin) and the
CSR exchange that a one-time token authorises."""

from __future__ import annotations

from aiohttp import web

from .. import audit
from ..db.models import utcnow
from ..enrollment import EnrollmentError, consume
from ..hosts import enroll_host, valid_host_id
from ..pki import PKIError, cert_pem
from .guards import STATE

MAX_ENROLL_BODY = 32 * 1024
_STATUS = {"invalid_token": 401, "token_used": 410, "token_expired": 410}


async def ca_certificate(request: web.Request) -> web.Response:
    return web.Response(body=cert_pem(request.app[STATE].ca.root_cert), content_type="application/x-pem-file")


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


async def enroll(request: web.Request) -> web.Response:
    state = request.app[STATE]
    address = request.remote or ""
    if state.enroll_throttle.blocked(address):
        return _error(429, "too_many_attempts", "too many failed enrollment attempts from this address; wait")
    if request.content_length is not None and request.content_length > MAX_ENROLL_BODY:
        return _error(413, "too_large", "the request is too large")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return _error(400, "bad_request", 'the request body must be JSON: {"token": ..., "csr": ...}')
    token, csr = (body.get("token"), body.get("csr")) if isinstance(body, dict) else (None, None)
    if not isinstance(token, str) or not isinstance(csr, str):
        return _error(400, "bad_request", 'the request body must be JSON: {"token": ..., "csr": ...}')
    try:
        async with state.db.begin() as s:
            row = await consume(s, token, utcnow(), address)
            if not valid_host_id(row.host_id):
                raise EnrollmentError("invalid_token", "the token names an invalid host id")
            chain = await enroll_host(s, state.ca, row.host_id, row.host_name, csr.encode(), state.agent_lifetime)
            audit.add(s, "agent_enrolled", "ok", actor=row.created_by, subject=row.host_id, address=address)
    except EnrollmentError as exc:
        state.enroll_throttle.failed(address)
        await audit.record(state.db, "agent_enrolled", "denied", address=address, reason=exc.code)
        return _error(_STATUS.get(exc.code, 400), exc.code, str(exc))
    except PKIError as exc:
        state.enroll_throttle.failed(address)
        await audit.record(state.db, "agent_enrolled", "denied", address=address, reason="bad_csr")
        return _error(400, "bad_csr", str(exc))
    return web.json_response({"host_id": row.host_id, "certificate": chain.decode()}, status=201)
