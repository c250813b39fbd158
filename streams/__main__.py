"""``python -m streams`` is the ``fraudstream`` command."""

from streams.cli import main

main()
