"""How the world reaches the notifier: its one Kafka consumer (`consumers`) and its
operators' HTTP routes (`api`)."""
