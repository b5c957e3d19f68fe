"""Map argilla SDK and httpx errors to :mod:`brun_label.errors`, one line each.

Examples
--------
>>> import httpx
>>> err = map_error(httpx.ConnectError("[Errno 111] Connection refused"), "http://127.0.0.1:1")
>>> type(err).__name__, str(err)
('BackendConnectionError', 'cannot reach Argilla at http://127.0.0.1:1 ([Errno 111] Connection refused); check --url or ARGILLA_API_URL')
>>> req = httpx.Request("GET", "http://x/api/v1/me")
>>> err = map_error(httpx.HTTPStatusError("boom", request=req, response=httpx.Response(503, request=req)), "http://x")
>>> type(err).__name__, str(err)
('ServerError', 'Argilla at http://x answered HTTP 503 to GET /api/v1/me')
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import httpx
from argilla._exceptions import ArgillaCredentialsError, ArgillaError
from argilla._exceptions._api import ArgillaAPIError

from brun_label.errors import (
    AuthenticationError,
    BackendConnectionError,
    BackendError,
    BrunLabelError,
    NotFoundError,
    ServerError,
)
from brun_label.secrets import redact


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError, UnicodeDecodeError):
        return ""
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, dict):
        detail = detail.get("message") or detail.get("params") or detail
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        detail = detail[0].get("msg")
    text = str(detail) if detail else ""
    return text.splitlines()[0][:300] if text else ""


def _for_status(code: int, where: str, url: str, detail: str) -> BackendError:
    suffix = f": {detail}" if detail else ""
    if code == 401:
        return AuthenticationError(f"Argilla at {url} refused the API key (check ARGILLA_API_KEY or --api-key-env)")
    if code == 403:
        return AuthenticationError(f"Argilla at {url}: this user may not {where}{suffix} (an owner or admin key is needed)")
    if code == 404:
        return NotFoundError(f"Argilla at {url}: not found: {where}{suffix}")
    return ServerError(f"Argilla at {url} answered HTTP {code} to {where}{suffix}")


def map_error(exc: BaseException, url: str, what: str | None = None) -> BrunLabelError:
    """Return the brun-label error for an SDK or HTTP exception (``what`` names the operation)."""
    if isinstance(exc, BrunLabelError):
        return exc
    if isinstance(exc, httpx.HTTPStatusError):
        req = exc.request
        where = what or f"{req.method} {req.url.path}"
        return _for_status(exc.response.status_code, where, url, _detail(exc.response))
    if isinstance(exc, httpx.TimeoutException):
        return BackendConnectionError(f"Argilla at {url} did not answer in time ({type(exc).__name__})")
    if isinstance(exc, httpx.TransportError | httpx.InvalidURL | httpx.UnsupportedProtocol):
        return BackendConnectionError(
            f"cannot reach Argilla at {url} ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
            "check --url or ARGILLA_API_URL"
        )
    if isinstance(exc, ArgillaCredentialsError):
        return AuthenticationError(f"Argilla at {url} refused the API key (check ARGILLA_API_KEY or --api-key-env)")
    if isinstance(exc, ArgillaAPIError):
        cause = exc.__cause__
        if isinstance(cause, httpx.HTTPStatusError):
            return map_error(cause, url, what)
        code = int(getattr(exc, "status_code", 500) or 500)
        return _for_status(code, what or "the request", url, str(exc).splitlines()[0][:300] if str(exc) else "")
    if isinstance(exc, json.JSONDecodeError | KeyError | TypeError):
        return ServerError(f"{url} gave an answer that is not Argilla's ({type(exc).__name__}); is it an Argilla server?")
    return ServerError(f"Argilla at {url}: {what or 'request'} failed: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def argilla_errors(url: str, what: str | None = None) -> Iterator[None]:
    """Re-raise SDK/HTTP errors inside the block as brun-label errors (secrets redacted)."""
    try:
        yield
    except BrunLabelError:
        raise
    except (httpx.HTTPError, httpx.InvalidURL, ArgillaError, ValueError, KeyError) as exc:
        mapped = map_error(exc, url, what)
        raise type(mapped)(redact(str(mapped))) from exc
