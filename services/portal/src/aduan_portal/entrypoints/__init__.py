"""Where work enters the portal: its Kafka consumer (one, `consumers.py`) and, for now, the
HTTP routers in the package root (`api.py`, `console/`, `open311.py`)."""
