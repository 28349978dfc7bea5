"""Pure rules of conductors sharing the fleet: which live conductor owns which host."""
