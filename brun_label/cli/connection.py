"""Connection options shared by ``push`` and ``pull``: platform, URL, and where the key lives."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from brun_label.backends.base import Backend, get_backend
from brun_label.errors import InputError
from brun_label.secrets import register_secret

PLATFORMS = ("label-studio", "argilla")


def target_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--project/--dataset``, ``--workspace``, ``--url`` and ``--api-key-env``."""
    fn = click.option(
        "--api-key-env", metavar="VAR", default=None,
        help="Environment variable holding the API key (default: LABEL_STUDIO_API_KEY or "
        "ARGILLA_API_KEY). Keys are never taken on the command line.",
    )(fn)
    fn = click.option("--url", default=None, metavar="URL",
                      help="Server URL (default: LABEL_STUDIO_URL or ARGILLA_API_URL).")(fn)
    fn = click.option("--workspace", default=None, help="Argilla workspace (default: the user's first).")(fn)
    fn = click.option("--project", "--dataset", "target", default=None, metavar="NAME",
                      help="Label Studio project title, or Argilla dataset name (default: the project file's).")(fn)
    return fn


def resolve_target(platform: str, target: str | None, workspace: str | None, url: str | None,
                   api_key_env: str | None, project: Any) -> tuple[str, str | None, str | None, str | None]:
    """Fill ``--project/--dataset``, ``--workspace``, ``--url``, ``--api-key-env`` from the project file.

    Flags win; without a flag and without the platform in the project file, the target is missing.
    """
    configured = project.targets.get(platform) if project is not None else None
    if target is None:
        if configured is None:
            raise InputError("is required (or run in a project folder: brun-label init)",
                             field="--project" if platform == "label-studio" else "--dataset")
        target = configured.target
    if configured is not None and configured.target == target:
        workspace = workspace or configured.workspace
        url = url or configured.url
        api_key_env = api_key_env or configured.api_key_env
    return target, workspace, url, api_key_env


def make_backend(platform: str, url: str | None, api_key_env: str | None) -> Backend:
    """Instantiate the backend; the key comes from ``api_key_env`` (or the SDK's own variable)."""
    api_key = None
    if api_key_env is not None:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise InputError(f"environment variable {api_key_env} is not set", field="--api-key-env")
        register_secret(api_key)
    return get_backend(platform, url=url, api_key=api_key)
