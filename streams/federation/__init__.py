"""Federation over the project's Kafka topics: the coordinator's transport (the service) and the
trainer's loop (inside a partner), the secure sums' aggregator (the service) and contributor (inside
a partner). The protocol itself is :mod:`models.federation`."""

from streams.federation.kafka_transport import (
    KafkaTransport,
    federation_topic_specs,
    serve_trainer,
)
from streams.federation.shared_sums import (
    serve_aggregator,
    serve_contributor,
    shared_sums_topic_specs,
)

__all__ = [
    "KafkaTransport",
    "federation_topic_specs",
    "serve_aggregator",
    "serve_contributor",
    "serve_trainer",
    "shared_sums_topic_specs",
]
