"""``python -m bgsub`` runs the command line."""

from bgsub.cli import main

main()
