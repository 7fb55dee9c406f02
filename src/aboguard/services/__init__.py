"""Use cases: one verb-noun function per action, one transaction each."""
