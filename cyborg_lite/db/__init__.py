"""SQL storage: models, one module of reader/writer functions per noun, alembic migrations."""
