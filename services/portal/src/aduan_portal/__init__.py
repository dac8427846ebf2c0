"""Aduan portal: the public site.

It owns a read model of public reports built only from the privacy gateway's redacted topic
(`gateway.public-reports.v1`), and renders it as server-side HTML (Indonesian by default,
English with `?lang=en`) and JSON. It never sees anything the gateway did not publish as public.
"""

__all__: list[str] = []
