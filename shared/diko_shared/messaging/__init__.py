"""Messaging on RabbitMQ: topology, reliable publishing and the consuming pipeline."""
