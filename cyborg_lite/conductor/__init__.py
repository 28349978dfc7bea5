"""The conductor: reconciliation of reports, host liveness, ARQ binding, the rollout engine."""
