"""The notifier's use cases: they take a unit of work's stores (Protocols in
`aduan_notifier.adapters.stores`) and the domain, nothing else."""
