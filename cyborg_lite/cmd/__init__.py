"""Console entry points: each builds its own configuration and hands it down."""
