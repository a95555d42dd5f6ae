"""``python -m corrflow``: the ``corrflow`` command."""

from corrflow.cli import main

main()
