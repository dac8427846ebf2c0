"""How the notifier is driven: its one Kafka consumer (`consumers`), its operators' HTTP
routes (`api`) and the delivery worker (`delivery`: woken after commits, claims and sends)."""
