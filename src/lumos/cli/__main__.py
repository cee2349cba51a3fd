"""``python -m lumos.cli``: the ``lumos`` command."""

from lumos.cli import main

main()
