"""cyborg-lite's tests: unit (pure functions, drivers on fixtures) and functional (real parts)."""
