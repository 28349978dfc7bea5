"""Request body schemas: plain JSON Schema dicts, one module per noun."""
