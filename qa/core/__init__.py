"""The core every layer shares and that depends on nothing else in the project: errors,
settings, records and text handling."""
