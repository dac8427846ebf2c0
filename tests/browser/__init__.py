"""Browser tests (a package: its fixtures share one platform, see conftest.py)."""
