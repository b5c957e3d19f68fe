"""Keep secrets out of output, logs and files.

Every line the CLI prints for an error passes through :func:`redact`, which replaces the values
of the API-key environment variables (and any value registered with :func:`register_secret`).

Examples
--------
>>> register_secret("sk-test-1234567890")
>>> redact("auth failed for key sk-test-1234567890")
'auth failed for key ***'
"""

from __future__ import annotations

import os
import re

SECRET_ENV_VARS = ("LABEL_STUDIO_API_KEY", "ARGILLA_API_KEY", "OPENAI_API_KEY", "LABEL_STUDIO_PASSWORD")
_registered: set[str] = set()
# Bearer/Token headers and sk- style keys that may show up in an SDK's error text.
_PATTERNS = [
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:bearer|token)\s+)[^\s'\"]+"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
]


def register_secret(value: str | None) -> None:
    """Treat ``value`` as a secret from now on (ignored when empty or shorter than 6 chars)."""
    if value and len(value) >= 6:
        _registered.add(value)


def redact(text: str) -> str:
    """Return ``text`` with every known secret replaced by ``***``."""
    secrets = set(_registered)
    for var in SECRET_ENV_VARS:
        value = os.environ.get(var)
        if value and len(value) >= 6:
            secrets.add(value)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    for pat in _PATTERNS:
        text = pat.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text
