"""Who may do what on Kafka: the one definition of every role's ACLs.

Four kinds of principal (SASL user names, ``User:<name>``):

- **a partner** (one per partner; user name = the partner id unless :class:`Principals` says
  otherwise) runs that partner's worker and feeds its topics. It reaches its own topics, the
  shared requests topic (write only) and nothing of any other partner;
- **the scorer** reads the requests and every partner's evaluation keys and writes encrypted
  verdicts and its own dead letters: no partner plaintext topic at all;
- **the federation service** runs the coordinator of federated training and the aggregator of
  the secure sums: it writes each partner's tasks and the sums, and reads the answers, the masking
  keys and the masked vectors; never a partner's own topic;
- **the admin** is a broker super user (``super.users``): it creates topics and ACLs and is
  never the principal a worker runs as. It has no grants here.

Every grant is LITERAL: one exact resource name. A PREFIXED grant would cross partners whose
ids share a prefix (``alpha`` and ``alpha-x``: ``fraud.alpha`` is a prefix of neither's topics,
but ``fraudstream-partner-alpha`` is a prefix of ``fraudstream-partner-alpha-x-...``). READ and
WRITE imply DESCRIBE for topics and groups in Kafka's authorizer, so DESCRIBE is never granted
on its own. Each grant says why the role needs it; the tests on an authenticated broker run
each role with exactly these grants (tests/integration/streams/broker/test_secure_broker.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from streams.core.errors import ConfigError
from streams.core.topics import PARTNER_TABLES, SCORING_SCOPE, TopicNames, faust_app_id

__all__ = [
    "Grant",
    "Operation",
    "PatternType",
    "Principals",
    "ResourceType",
    "all_grants",
    "federation_grants",
    "grant_table",
    "partner_grants",
    "scorer_grants",
]


class ResourceType(StrEnum):
    """Kafka resource types this project grants on."""

    TOPIC = "TOPIC"
    GROUP = "GROUP"
    CLUSTER = "CLUSTER"


class PatternType(StrEnum):
    """Resource pattern types: LITERAL only (see the module's docstring for why)."""

    LITERAL = "LITERAL"


class Operation(StrEnum):
    """Kafka ACL operations this project grants."""

    READ = "READ"
    WRITE = "WRITE"
    CREATE = "CREATE"
    DESCRIBE = "DESCRIBE"


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL: ``principal`` may ``operation`` on ``resource_name`` (from any host)."""

    principal: str
    resource_type: ResourceType
    resource_name: str
    operation: Operation
    pattern_type: PatternType = PatternType.LITERAL
    #: Why the role needs it (shown in docs/kafka.md; not part of the ACL).
    reason: str = field(default="", compare=False)


@dataclass(frozen=True)
class Principals:
    """The SASL user names of the roles: ``admin``, ``scorer``, ``federation``, and each
    partner's id unless ``partners`` maps it to another name."""

    admin: str = "admin"
    scorer: str = "scorer"
    federation: str = "federation"
    partners: Mapping[str, str] = field(default_factory=dict)

    def partner(self, partner: str) -> str:
        """The user name of ``partner``'s principal."""
        return self.partners.get(partner, partner)

    def users(self, partners: Iterable[str]) -> list[str]:
        """Every user name, admin and scorer first; a name two roles would share is an error."""
        users = [self.admin, self.scorer, self.federation, *(self.partner(p) for p in partners)]
        shared = sorted({user for user in users if users.count(user) > 1})
        if shared:
            msg = (
                f"user names {shared} would belong to two roles (admin {self.admin!r}, scorer "
                f"{self.scorer!r}, federation {self.federation!r}, partners by id): every role "
                "needs a principal of its own; "
                "rename the partner or its user"
            )
            raise ConfigError(msg)
        return users


def _user(name: str) -> str:
    return f"User:{name}"


def _topic(user: str, name: str, ops: Iterable[Operation], reason: str) -> list[Grant]:
    return [Grant(_user(user), ResourceType.TOPIC, name, op, reason=reason) for op in ops]


def _group(user: str, name: str, reason: str) -> Grant:
    return Grant(_user(user), ResourceType.GROUP, name, Operation.READ, reason=reason)


_R, _W, _C = Operation.READ, Operation.WRITE, Operation.CREATE
#: Why a worker may create its Faust app's leader topic, and only that one.
_LEADER = (
    "Faust's leader assignor subscribes to it; the app declares it at start, and the broker "
    "refuses CreateTopics without CREATE even when the topic exists (the worker would stop)"
)


def partner_grants(
    names: TopicNames, app_id: str, partner: str, principals: Principals | None = None
) -> list[Grant]:
    """Everything ``partner``'s principal needs: its worker (gateway, decryptor, key
    publisher), the bank feeding its inputs and its fraud team reading its outputs."""
    user = (principals or Principals()).partner(partner)
    app = faust_app_id(app_id, "partner", partner)
    p = partner
    grants = [
        *_topic(user, names.transactions(p), [_R, _W], "the bank writes its transactions; "
                "the gateway validates them"),
        *_topic(user, names.labels(p), [_R, _W], "the bank writes confirmed frauds; the "
                "gateway passes them on"),
        *_topic(user, names.validated(p), [_R, _W], "valid events on their way through "
                "their entities' states; request_scores reads and passes them on"),
        *_topic(user, names.pending(p), [_R, _W], "request_scores stores a request's details; "
                "the decryptor joins them with the verdict"),
        *_topic(user, names.scores(p), [_R, _W], "the decryptor writes every score; the "
                "partner reads them"),
        *_topic(user, names.alerts(p), [_R, _W], "the decryptor writes alerts; the fraud team "
                "reads them (fraudstream alerts)"),
        *_topic(user, names.shadow_scores(p), [_R, _W], "the decryptor writes a candidate "
                "model's scores; the partner compares them (fraudstream shadow)"),
        *_topic(user, names.deadletter(p), [_R, _W], "the agents dead-letter bad records; the "
                "partner inspects and re-sends them"),
        *_topic(user, names.verdicts(p), [_R], "the decryptor reads its encrypted verdicts "
                "(only the scorer writes them)"),
        *_topic(user, names.evaluation_keys(p), [_R, _W], "the worker publishes its evaluation "
                "keys, after reading the topic to publish each key id once"),
        *_topic(user, names.scoring_requests(), [_W], "request_scores sends encrypted "
                "requests (shared topic: write only, never read)"),
        *_topic(user, TopicNames.assignor_leader(app), [_R, _C], _LEADER),
        _group(user, app, "the worker's consumer group (join, fetch and commit offsets)"),
        # Federation (docs/federation.md): the trainer, the contributor, the gateway's sums.
        *_topic(user, names.federation_tasks(p), [_R], "the trainer reads the coordinator's "
                "tasks (only the federation service writes them)"),
        _group(user, faust_app_id(app_id, "trainer", p), "the trainer's consumer group (its "
               "offset: a restarted trainer goes on where it was)"),
        *_topic(user, names.federation_answers(), [_W], "the trainer answers (shared topic: "
                "write only, never read)"),
        *_topic(user, names.masking_keys(), [_R, _W], "the contributor publishes its masking "
                "key and reads the others' (the roster)"),
        *_topic(user, names.contributions(), [_W], "the contributor sends its masked hours "
                "(shared topic: write only, never read)"),
        *_topic(user, names.shared_counts(), [_R], "the gateway reads the aggregator's sums "
                "(only the federation service writes them)"),
    ]  # fmt: skip
    for table in PARTNER_TABLES:
        # No CREATE: the admin declares the changelogs with the topics (`topics create`), and
        # the leader topic's declaration refreshes the app's metadata first, so Faust sees them.
        grants += _topic(
            user, TopicNames.changelog(app_id, partner, table), [_R, _W],
            f"the {table} table writes its changes and is rebuilt from them at start",
        )  # fmt: skip
    return grants


def scorer_grants(
    names: TopicNames, app_id: str, partners: Iterable[str], principals: Principals | None = None
) -> list[Grant]:
    """Everything the scorer's principal needs: requests in, evaluation keys in, encrypted
    verdicts and its dead letters out. Nothing on a partner's plaintext topics."""
    user = (principals or Principals()).scorer
    app = faust_app_id(app_id, "scorer")
    grants = [
        *_topic(user, names.scoring_requests(), [_R], "score_requests reads the encrypted "
                "requests of every partner"),
        *_topic(user, names.deadletter(SCORING_SCOPE), [_W], "bad requests are dead-lettered "
                "with their reason (the admin reads them)"),
        *_topic(user, TopicNames.assignor_leader(app), [_R, _C], _LEADER),
        _group(user, app, "the scorers' consumer group (join, fetch and commit offsets)"),
    ]  # fmt: skip
    for partner in partners:
        grants += [
            *_topic(user, names.evaluation_keys(partner), [_R], "the key follower reads "
                    "every partner's evaluation keys (no group: every replica needs all)"),
            *_topic(user, names.verdicts(partner), [_W], "the encrypted verdict goes back to "
                    "the partner that asked"),
        ]  # fmt: skip
    return grants


def federation_grants(
    names: TopicNames, partners: Iterable[str], principals: Principals | None = None
) -> list[Grant]:
    """Everything the federation service's principal needs: the coordinator's tasks out and
    answers in, the aggregator's masking keys and masked vectors in and sums out. No partner's
    own topic, no consumer group (it reads by assignment)."""
    user = (principals or Principals()).federation
    grants = [
        *_topic(user, names.federation_answers(), [_R], "the coordinator reads the members' "
                "answers (trees, masked vectors, counts of rows)"),
        *_topic(user, names.masking_keys(), [_R], "the aggregator reads the roster's masking "
                "keys"),
        *_topic(user, names.contributions(), [_R], "the aggregator reads the masked hours"),
        *_topic(user, names.shared_counts(), [_W], "the aggregator publishes the sums of whole "
                "rosters, signed"),
    ]  # fmt: skip
    for partner in partners:
        grants += _topic(
            user, names.federation_tasks(partner), [_W],
            "the coordinator sends the member its tasks, signed",
        )  # fmt: skip
    return grants


def all_grants(
    names: TopicNames, app_id: str, partners: Iterable[str], principals: Principals | None = None
) -> list[Grant]:
    """Every role's grants: the scorer's, the federation service's, then each partner's in
    order."""
    principals = principals or Principals()
    partners = list(partners)
    principals.users(partners)  # refuses a user name two roles would share
    grants = scorer_grants(names, app_id, partners, principals)
    grants += federation_grants(names, partners, principals)
    for partner in partners:
        grants += partner_grants(names, app_id, partner, principals)
    return grants


def grant_table(grants: Iterable[Grant]) -> str:
    """The grants as a Markdown table (docs/kafka.md holds the one for the defaults)."""
    rows = [
        "| principal | resource | operations | why |",
        "|---|---|---|---|",
    ]
    merged: dict[tuple[str, ResourceType, str], tuple[list[str], str]] = {}
    for grant in grants:
        key = (grant.principal, grant.resource_type, grant.resource_name)
        operations, _ = merged.setdefault(key, ([], grant.reason))
        operations.append(grant.operation.value)
    for (principal, kind, name), (operations, reason) in merged.items():
        resource = f"{kind.value.lower()} `{name}`"
        rows.append(f"| `{principal}` | {resource} | {', '.join(operations)} | {reason} |")
    return "\n".join(rows)
