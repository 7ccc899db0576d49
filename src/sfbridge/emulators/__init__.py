"""Built-in emulators of the systems sfbridge talks to."""
