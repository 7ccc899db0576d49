"""Salesforce: ids, SOQL and (later) the API client."""
