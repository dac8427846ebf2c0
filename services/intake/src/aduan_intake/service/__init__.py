"""Use cases: filing (group commit), amending, answering an officer's question."""
