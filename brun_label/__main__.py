"""``python -m brun_label`` runs the CLI."""

from brun_label.cli import main

main()
