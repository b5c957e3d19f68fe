"""The ``brun-label`` command line: a thin Click layer over the library.

Conventions (every command follows them):

* data goes to stdout, progress and logs to stderr; ``--json`` where output is data;
* exit 0 on success, 2 on bad input or usage, 3 when a quality gate fails, 1 on anything else
  (server, network); errors are one line, never a traceback (``--debug`` shows one);
* secrets (API keys) never appear in output: every error line goes through :func:`redact`.

Commands are loaded lazily so that ``brun-label --help`` does not import the SDKs.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from brun_label import __version__
from brun_label.errors import BrunLabelError
from brun_label.secrets import redact

#: command name -> "module:attribute" (modules under brun_label.cli).
_COMMANDS: dict[str, str] = {
    "init": "brun_label.cli.init:init",
    "validate": "brun_label.cli.validate:validate",
    "rubric": "brun_label.cli.rubric:rubric",
    "schema": "brun_label.cli.validate:schema",
    "serve": "brun_label.cli.serve:serve",
    "push": "brun_label.cli.push:push",
    "pull": "brun_label.cli.pull:pull",
    "demo": "brun_label.cli.demo:demo",
    "export": "brun_label.cli.export:export",
    "draft": "brun_label.cli.draft:draft",
    "judge": "brun_label.cli.judge:judge",
    "agreement": "brun_label.cli.agreement:agreement",
    "route": "brun_label.cli.route:route",
    "adjudicate": "brun_label.cli.adjudicate:adjudicate",
    "status": "brun_label.cli.status:status",
}


#: Longest error line printed (the rest is cut, with the full length said).
MAX_ERROR_CHARS = 1000


class CommandError(click.ClickException):
    """A :class:`BrunLabelError` turned into a one-line Click error with its own exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it as a class attribute

    def show(self, file: Any = None) -> None:
        message = " ".join(self.format_message().splitlines())
        if len(message) > MAX_ERROR_CHARS:  # one bad value must never make a giant error line
            message = message[: MAX_ERROR_CHARS - 20] + f"... ({len(message):,} chars)"
        click.echo(f"Error: {message}", err=True)


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used, and whose errors are one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        cmd = getattr(importlib.import_module(module), attr)
        assert isinstance(cmd, click.Command)
        return cmd

    def invoke(self, ctx: click.Context) -> Any:
        debug = "--debug" in sys.argv or bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrunLabelError as exc:
            if debug:
                raise
            raise CommandError(redact(str(exc)), exc.exit_code) from None
        except KeyboardInterrupt:
            raise CommandError("interrupted", 130) from None
        except Exception as exc:
            if debug:
                raise
            detail = redact(str(exc).splitlines()[0] if str(exc) else "")
            raise CommandError(
                f"unexpected {exc.__class__.__name__}: {detail} (run with --debug for a traceback)", 1
            ) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="brun-label")
@click.option("--debug", is_flag=True, help="Show a traceback when something fails.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Turn LLM-drafted training samples into human-verified preference data.

    \b
    Example:
      brun-label validate samples.jsonl
      brun-label rubric show de-escalation --format label-studio
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="brun-label")
