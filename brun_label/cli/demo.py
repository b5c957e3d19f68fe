"""``brun-label demo``: the whole loop on the bundled default, against local servers."""

from __future__ import annotations

from pathlib import Path

import click

from brun_label.cli.output import info


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("brun-label-demo"),
              show_default=True, help="Where the demo writes its files.")
@click.option("--no-simulate", is_flag=True,
              help="Stop after the push: no simulated annotators, annotate in the UIs yourself.")
@click.option("--show-password", is_flag=True,
              help="Print the servers' admin passwords (by default only where they are kept).")
def demo(out_dir: Path, no_simulate: bool, show_password: bool) -> None:
    """Run the whole loop on the bundled de-escalation samples.

    Validates the bundled samples, renders every rubric pack, starts local Label Studio and
    Argilla servers, pushes the samples to both, lets three clearly labelled simulated annotators
    answer through the servers' real APIs, pulls both platforms into one table, prints the
    agreement summary, writes the HTML report, and exports the consensus DPO pairs with their
    dataset card. Idempotent: a second run reuses everything. The servers stay up
    (`brun-label serve stop all` stops them).

    \b
    Example:
      brun-label demo
      brun-label demo --no-simulate --out /tmp/demo
    """
    from brun_label.cli.agreement import _render_table
    from brun_label.demo import run_demo
    from brun_label.servers.base import get_server

    result = run_demo(out_dir, simulate_annotators=not no_simulate, log=info)
    if result.agreement is not None:
        click.echo(_render_table(result.agreement, max_units=5))
    if result.export is not None:
        ex = result.export
        items = ex["items"]
        excluded = ", ".join(f"{k} {v}" for k, v in items["excluded"].items()) or "none"
        click.echo(f"DPO export: {ex['pairs']} pair(s) from {items['exported']} of {items['total']} items; "
                   f"items left out: {excluded}")
    click.echo("")
    click.echo("Annotate for real (the servers stay up):")
    for name, server in result.servers.items():
        secret = f" / {server.password}" if show_password else f"   password in {get_server(name).credentials_path}"
        click.echo(f"  {name:<13} {server.url}   login: {server.username}{secret}")
    click.echo('  SDK environment: eval "$(brun-label serve env label-studio)"; '
               'eval "$(brun-label serve env argilla)"')
    click.echo("  stop them with: brun-label serve stop all")
    click.echo("Files:")
    for what, path in result.files.items():
        click.echo(f"  {what:<32} {path}")
