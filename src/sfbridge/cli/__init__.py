"""The ``sfbridge`` command line: a thin shell over library calls."""
