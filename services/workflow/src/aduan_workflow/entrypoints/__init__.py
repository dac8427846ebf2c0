"""What drives workflow: the HTTP router, the Kafka consumers and the SLA scanner."""
