"""Synchronous Kafka tooling (kafka-python): the local broker, topic administration, tools'
consumers and their connection settings."""

__all__ = ["admin", "connection", "local_kafka"]
