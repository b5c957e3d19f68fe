"""Exceptions raised by brun-label, each with the exit code the CLI maps it to.

Every backend error is mapped to one of these, so that callers (and the CLI) never see an
SDK's own exception types.

Examples
--------
>>> err = InputError("missing field", path="samples.jsonl", line=3, field="prompt")
>>> str(err)
'samples.jsonl:3: prompt: missing field'
>>> err.exit_code
2
"""

from __future__ import annotations


class BrunLabelError(Exception):
    """Base class: a failure that the CLI reports as one line, with ``exit_code``."""

    exit_code = 1


class InputError(BrunLabelError):
    """Bad input from the user (a file, an option or a rubric): exit code 2."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.field = field
        super().__init__(self.render())

    def render(self) -> str:
        """Return ``path:line: field: message`` with the parts that are known."""
        where = ""
        if self.path is not None:
            where = self.path + (f":{self.line}" if self.line is not None else "") + ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        if self.field:
            where += f"{self.field}: "
        return where + self.message


class ValidationFailed(InputError):
    """Several input problems at once (``problems`` holds each one)."""

    def __init__(self, problems: list[InputError]) -> None:
        self.problems = problems
        first = problems[0].render() if problems else "invalid input"
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(first + more)


class GateError(BrunLabelError):
    """A quality gate failed (agreement below the threshold): exit code 3."""

    exit_code = 3


class BackendError(BrunLabelError):
    """A server or network failure: exit code 1."""

    exit_code = 1


class BackendConnectionError(BackendError):
    """The server could not be reached (wrong URL, server down)."""


class AuthenticationError(BackendError):
    """The server refused the credentials (wrong or missing API key)."""


class NotFoundError(BackendError):
    """A project, dataset, workspace or model does not exist on the server."""


class ServerError(BackendError):
    """The server answered with an error (5xx, or an unexpected answer)."""


class ConflictError(BackendError):
    """The server holds something that conflicts with the request (a different config)."""
