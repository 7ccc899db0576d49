"""``python -m sfbridge.cli``: the same as the ``sfbridge`` command."""

from sfbridge.cli.main import app

app()
