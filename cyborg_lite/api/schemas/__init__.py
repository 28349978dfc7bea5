"""Request schemas (JSON Schema dicts), one module per noun."""
