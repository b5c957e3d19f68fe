"""``brun-label serve``: local Label Studio and Argilla servers for trying things out and tests."""

from __future__ import annotations

import shlex

import click

from brun_label.cli.output import echo_json, info
from brun_label.errors import ConflictError
from brun_label.servers.base import SERVERS, LocalServer, ServerInfo, get_server


def _show(server: ServerInfo, local: LocalServer, as_json: bool, show_password: bool) -> None:
    """Say where the server is; the password only with ``--show-password`` (CI logs keep stdout)."""
    if as_json:
        echo_json({"name": server.name, "url": server.url, "username": server.username,
                   "credentials_file": str(local.credentials_path),
                   "data_dir": server.data_dir, "log_file": server.log_file, "pid": server.pid})
        return
    click.echo(f"{server.name} is up at {server.url}")
    if show_password:
        click.echo(f"  log in as: {server.username} / {server.password}  (local server, loopback only)")
    else:
        click.echo(f"  log in as: {server.username}; password in {local.credentials_path} "
                   "(mode 0600; --show-password prints it)")
    click.echo(f"  data: {server.data_dir}   log: {server.log_file}")
    click.echo(f"  environment for the SDKs and brun-label:  eval \"$(brun-label serve env {server.name})\"")
    click.echo(f"  stop it with:  brun-label serve stop {server.name}")


@click.group()
def serve() -> None:
    """Start, inspect and stop local annotation servers (127.0.0.1 only).

    Each server runs from its own virtual environment, created on first use under
    $BRUN_LABEL_HOME (default ~/.cache/brun-label).

    \b
    Example:
      brun-label serve label-studio
      eval "$(brun-label serve env label-studio)"
      brun-label serve stop all
    """


def _start_command(name: str) -> click.Command:
    @click.command(name=name, help=f"Start a local {name} server (or show the running one).\n\n"
                   f"\b\nExample:\n  brun-label serve {name} --port 0")
    @click.option("--port", type=click.IntRange(min=0, max=65535), default=None,
                  help="Port on 127.0.0.1: exactly this one, or fail (default: the port it had before, "
                       "else the server's usual one; 0 = any free port).")
    @click.option("--show-password", is_flag=True,
                  help="Print the admin password (by default only the credentials file's path is printed).")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON (without secrets).")
    def start(port: int | None, show_password: bool, as_json: bool) -> None:
        server = get_server(name)
        running = server.status()
        if running is not None:
            if port and not running.url.endswith(f":{port}"):
                raise ConflictError(f"{name} is already running at {running.url}: stop it first "
                                    f"(brun-label serve stop {name}) to move it to port {port}")
            info(f"{name} is already running (pid {running.pid}).")
            _show(running, server, as_json, show_password)
            return
        _show(server.start(port=port), server, as_json, show_password)

    return start


for _name in SERVERS:
    serve.add_command(_start_command(_name))


@serve.command()
@click.argument("name", type=click.Choice([*SERVERS, "all"]), default="all")
def stop(name: str) -> None:
    """Stop a local server (default: all of them).

    \b
    Example:
      brun-label serve stop label-studio
    """
    for server_name in SERVERS if name == "all" else [name]:
        stopped = get_server(server_name).stop()
        click.echo(f"{server_name}: {'stopped' if stopped else 'not running'}")


@serve.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (without secrets).")
def status(as_json: bool) -> None:
    """Show which local servers are running.

    \b
    Example:
      brun-label serve status --json
    """
    states = {n: get_server(n).status() for n in SERVERS}
    if as_json:
        echo_json({n: (None if s is None else {"url": s.url, "pid": s.pid, "username": s.username})
                   for n, s in states.items()})
        return
    for n, s in states.items():
        click.echo(f"{n}: " + ("not running" if s is None else f"up at {s.url} (pid {s.pid})"))


@serve.command()
@click.argument("name", type=click.Choice(list(SERVERS)))
def env(name: str) -> None:
    """Print `export` lines for a running local server (meant for `eval`; they hold its API key).

    \b
    Example:
      eval "$(brun-label serve env argilla)"
    """
    server = get_server(name).status()
    if server is None:
        raise click.ClickException(f"{name} is not running: start it with `brun-label serve {name}`")
    for key, value in server.env.items():
        click.echo(f"export {key}={shlex.quote(value)}")
