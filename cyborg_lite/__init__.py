"""cyborg-lite: an accelerator manager with Cyborg's v2 API and fleet-wide firmware rollout."""

__version__ = "0.1.0"
