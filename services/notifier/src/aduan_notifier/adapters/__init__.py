"""What the notifier talks to: its stores (`stores` Protocols, `postgres` on asyncpg) and
the providers that carry messages (`providers`: SMTP, SMS gateway, WhatsApp, push, Meta)."""
