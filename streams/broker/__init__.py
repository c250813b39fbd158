"""Synchronous Kafka tooling (kafka-python): the local broker (plaintext or secure, with its
certificates and users), topic administration, ACLs, tools' consumers and their connection
settings."""

__all__ = ["acls", "admin", "connection", "local_kafka", "secure", "tls"]
