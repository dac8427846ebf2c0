"""What drives intake: the HTTP routers (one per resource: `api`, the channels under
`channels/`) and the Kafka consumer wiring (`consumers`)."""
