"""Federation over the project's Kafka topics: the coordinator's transport (the service) and the
trainer's loop (inside a partner). The protocol itself is :mod:`models.federation`."""

from streams.federation.kafka_transport import (
    KafkaTransport,
    federation_topic_specs,
    serve_trainer,
)

__all__ = ["KafkaTransport", "federation_topic_specs", "serve_trainer"]
