"""Connecting sfbridge to the systems it bridges, and checking what a connection can reach."""
