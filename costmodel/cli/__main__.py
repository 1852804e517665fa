"""``python -m costmodel.cli ARGS`` (the same as the ``costmodel`` command)."""
from costmodel.cli import main

main()
