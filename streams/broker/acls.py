"""The grants of :mod:`streams.core.access` as Kafka ACLs, created with kafka-python's admin
client (as a super user: the secure local broker's admin, or a cluster's)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)
from kafka.errors import KafkaError

from streams.broker.admin import admin_client
from streams.core.access import Grant, Operation, PatternType
from streams.core.access import ResourceType as GrantResource
from streams.core.errors import BrokerError

__all__ = ["create_acls", "described_grants", "kafka_acl"]


def kafka_acl(grant: Grant) -> ACL:
    """The ALLOW ACL of ``grant``, from any host."""
    pattern = ResourcePattern(
        ResourceType[grant.resource_type.value],
        grant.resource_name,
        ACLResourcePatternType[grant.pattern_type.value],
    )
    return ACL(
        principal=grant.principal,
        host="*",
        operation=ACLOperation[grant.operation.value],
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=pattern,
    )


def create_acls(client_config: dict[str, Any], grants: Iterable[Grant]) -> int:
    """Create the ACLs of ``grants`` (an existing one is kept as it is); return how many."""
    acls = [kafka_acl(grant) for grant in grants]
    admin = admin_client(client_config)
    try:
        result = admin.create_acls(acls)
    except KafkaError as exc:
        msg = f"could not create ACLs: {exc} (is the client a super user of an authorizing broker?)"
        raise BrokerError(msg) from exc
    finally:
        admin.close()
    if result["failed"]:
        msg = f"the broker refused {len(result['failed'])} ACLs: {result['failed'][:3]}"
        raise BrokerError(msg)
    return len(acls)


def described_grants(client_config: dict[str, Any]) -> set[Grant]:
    """Every ALLOW ACL on the broker, as grants (without reasons): what it enforces now."""
    any_resource = ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY)
    everything = ACLFilter(
        principal=None,
        host=None,
        operation=ACLOperation.ANY,
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=any_resource,
    )
    admin = admin_client(client_config)
    try:
        acls, _ = admin.describe_acls(everything)
    except KafkaError as exc:
        msg = f"could not describe ACLs: {exc}"
        raise BrokerError(msg) from exc
    finally:
        admin.close()
    return {
        Grant(
            acl.principal,
            GrantResource(acl.resource_pattern.resource_type.name),
            acl.resource_pattern.resource_name,
            Operation(acl.operation.name),
            PatternType(acl.resource_pattern.pattern_type.name),
        )
        for acl in acls
    }
