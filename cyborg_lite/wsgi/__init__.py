"""WSGI entry points for servers that host the application themselves (issue 18)."""
