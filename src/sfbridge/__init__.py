"""sfbridge: a self-hosted bridge between Salesforce and a customer engagement platform."""

__version__ = "0.1.0"
