"""Map label-studio-sdk and httpx failures to :mod:`brun_label.errors`, each as one clear line.

Examples
--------
>>> from label_studio_sdk.core.api_error import ApiError
>>> try:
...     with sdk_errors("http://127.0.0.1:8080", "listing projects"):
...         raise ApiError(status_code=401, body={"detail": "Invalid token."})
... except Exception as exc:
...     print(type(exc).__name__, "-", exc)
AuthenticationError - Label Studio at http://127.0.0.1:8080 refused the API key while listing projects (HTTP 401: Invalid token.); check LABEL_STUDIO_API_KEY (a legacy token or a personal access token)
>>> try:
...     with sdk_errors("http://127.0.0.1:8080", "importing tasks"):
...         raise ApiError(status_code=502, body="<html>Bad gateway</html>")
... except Exception as exc:
...     print(type(exc).__name__, "-", exc)
ServerError - Label Studio at http://127.0.0.1:8080 failed while importing tasks (HTTP 502: Bad gateway)
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
from label_studio_sdk.core.api_error import ApiError
from label_studio_sdk.core.parse_error import ParsingError
from pydantic import ValidationError

from brun_label.errors import (
    AuthenticationError,
    BackendConnectionError,
    BrunLabelError,
    NotFoundError,
    ServerError,
)

_MAX_DETAIL = 300


def _flatten(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("validation_errors", "detail", "message", "error"):
            if body.get(key):
                return _flatten(body[key])
        return json.dumps(body, ensure_ascii=False)
    if isinstance(body, list | tuple):
        return "; ".join(_flatten(b) for b in body)
    return str(body)


def detail(body: Any) -> str:
    """Return a short one-line text from an API error body (JSON or HTML).

    >>> detail({"validation_errors": {"non_field_errors": ["These labels still exist\\n-1"]}})
    "{'non_field_errors': ['These labels still exist -1']}"
    >>> detail("<html><title>Server Error (500)</title></html>")
    'Server Error (500)'
    """
    if isinstance(body, dict) and isinstance(body.get("validation_errors"), dict):
        text = str({k: [" ".join(str(x).split()) for x in (v if isinstance(v, list) else [v])]
                    for k, v in body["validation_errors"].items()})
    else:
        text = _flatten(body)
    if "<" in text and ">" in text:
        text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def api_error(exc: ApiError, url: str, action: str) -> BrunLabelError:
    """Return the brun-label error for an SDK :class:`ApiError`."""
    status = exc.status_code
    why = detail(exc.body)
    code = f"HTTP {status}" + (f": {why}" if why else "")
    if status is None:  # raised by the SDK before any request: a missing or expired key
        return AuthenticationError(f"Label Studio API key problem: {why}")
    if status in (401, 403):
        return AuthenticationError(
            f"Label Studio at {url} refused the API key while {action} ({code}); "
            "check LABEL_STUDIO_API_KEY (a legacy token or a personal access token)"
        )
    if status == 404:
        return NotFoundError(f"Label Studio at {url}: not found while {action} ({code}); is {url} a Label Studio server?")
    if status >= 500:
        return ServerError(f"Label Studio at {url} failed while {action} ({code})")
    if 200 <= status < 300:
        return ServerError(f"unexpected answer from {url} while {action} (not JSON; is it a Label Studio server?)")
    return ServerError(f"Label Studio at {url} rejected the request while {action} ({code})")


@contextlib.contextmanager
def sdk_errors(url: str, action: str) -> Iterator[None]:
    """Turn any SDK or network error raised inside the block into a :class:`BackendError` subclass."""
    try:
        yield
    except BrunLabelError:
        raise
    except ApiError as exc:
        raise api_error(exc, url, action) from None
    except httpx.TimeoutException:
        raise BackendConnectionError(f"Label Studio at {url} did not answer in time while {action}") from None
    except httpx.HTTPError as exc:
        why = " ".join(str(exc).split()) or exc.__class__.__name__
        raise BackendConnectionError(f"cannot reach Label Studio at {url}: {why}") from None
    except (ParsingError, ValidationError, json.JSONDecodeError) as exc:
        first = (str(exc).splitlines() or [exc.__class__.__name__])[0]
        raise ServerError(f"unexpected answer from {url} while {action} ({first}); is it a Label Studio server?") from None
