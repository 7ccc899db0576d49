"""A Salesforce org emulator: OAuth, REST, SOQL over SQLite, faults; served over HTTPS."""
