"""The portal's use cases: what happens to its state, given stores behind Protocols
(`adapters/`), called from its entrypoints (`entrypoints/`). No I/O of their own."""
