"""The roles' grants (streams/core/access.py), checked on the names alone."""

from __future__ import annotations

import pytest

from streams.core.access import (
    Grant,
    Operation,
    PatternType,
    Principals,
    ResourceType,
    all_grants,
    federation_grants,
    grant_table,
    partner_grants,
    scorer_grants,
)
from streams.core.errors import ConfigError
from streams.core.topics import PARTNER_TABLES, TopicNames, faust_app_id

NAMES = TopicNames("fraud")
APP = "fraudstream"
#: Ids sharing a prefix: a PREFIXED grant of alpha's would reach alpha-x's resources.
PARTNERS = ("alpha", "alpha-x", "bravo")
PLAINTEXT = ("transactions", "labels", "validated", "pending", "scores", "alerts", "shadow_scores")


def resources(grants: list[Grant]) -> set[str]:
    return {grant.resource_name for grant in grants}


def partner_resources(partner: str) -> set[str]:
    """Every topic and group that belongs to ``partner`` alone."""
    names = {getattr(NAMES, entity)(partner) for entity in PLAINTEXT}
    names |= {NAMES.deadletter(partner), NAMES.verdicts(partner), NAMES.evaluation_keys(partner)}
    names |= {TopicNames.changelog(APP, partner, table) for table in PARTNER_TABLES}
    names |= {NAMES.federation_tasks(partner), faust_app_id(APP, "trainer", partner)}
    app = faust_app_id(APP, "partner", partner)
    return names | {app, TopicNames.assignor_leader(app)}


#: The shared federation topics a partner reaches (each only as the tests below say).
FEDERATION_SHARED = {
    NAMES.federation_answers(),
    NAMES.masking_keys(),
    NAMES.contributions(),
    NAMES.shared_counts(),
}


def test_every_grant_is_literal_and_allows_a_known_operation() -> None:
    """No grant is PREFIXED (ids share prefixes) and each has a reason."""
    for grant in all_grants(NAMES, APP, PARTNERS):
        assert grant.pattern_type is PatternType.LITERAL
        assert grant.operation in set(Operation)
        assert grant.reason


@pytest.mark.parametrize("partner", PARTNERS)
def test_no_grant_of_a_partner_names_another_partners_resource(partner: str) -> None:
    """A partner's grants name its own resources, the shared requests topic and the shared
    federation topics, nothing of any other partner (alpha's none of alpha-x's, whose names
    start with alpha's)."""
    mine = resources(partner_grants(NAMES, APP, partner))
    assert mine == partner_resources(partner) | {NAMES.scoring_requests()} | FEDERATION_SHARED
    for other in PARTNERS:
        if other != partner:
            assert not mine & partner_resources(other), other


def test_a_partner_only_writes_the_shared_requests_topic() -> None:
    """On the one topic all partners share, a partner may write, not read."""
    shared = [
        g
        for g in partner_grants(NAMES, APP, "alpha")
        if g.resource_name == NAMES.scoring_requests()
    ]
    assert [g.operation for g in shared] == [Operation.WRITE]


def test_a_partner_reads_its_verdicts_and_never_writes_them() -> None:
    """Only the scorer writes verdicts: a partner cannot forge its own."""
    verdicts = [
        g for g in partner_grants(NAMES, APP, "alpha") if g.resource_name == NAMES.verdicts("alpha")
    ]
    assert [g.operation for g in verdicts] == [Operation.READ]


def test_the_scorer_has_no_grant_on_a_partners_plaintext_topics() -> None:
    """Transactions, labels, validated, pending, scores, alerts, dead letters and changelogs of
    every partner are out of the scorer's reach."""
    reachable = resources(scorer_grants(NAMES, APP, PARTNERS))
    for partner in PARTNERS:
        plaintext = {getattr(NAMES, entity)(partner) for entity in PLAINTEXT}
        plaintext |= {NAMES.deadletter(partner)}
        plaintext |= {TopicNames.changelog(APP, partner, table) for table in PARTNER_TABLES}
        assert not reachable & plaintext, partner


def test_the_scorer_reads_keys_and_requests_and_writes_verdicts() -> None:
    """The scorer's topic grants are exactly: requests and each keys topic read, each verdicts
    topic and its dead letters written, its Faust leader topic read and created."""
    leader = TopicNames.assignor_leader(faust_app_id(APP, "scorer"))
    got = {
        (g.resource_name, g.operation)
        for g in scorer_grants(NAMES, APP, ("alpha", "bravo"))
        if g.resource_type is ResourceType.TOPIC
    }
    assert got == {
        (NAMES.scoring_requests(), Operation.READ),
        (NAMES.deadletter("scoring"), Operation.WRITE),
        (leader, Operation.READ),
        (leader, Operation.CREATE),
        (NAMES.evaluation_keys("alpha"), Operation.READ),
        (NAMES.evaluation_keys("bravo"), Operation.READ),
        (NAMES.verdicts("alpha"), Operation.WRITE),
        (NAMES.verdicts("bravo"), Operation.WRITE),
    }


def test_each_role_reads_its_own_consumer_group_only() -> None:
    """Group grants: the scorer's group for the scorer, each partner's worker's and trainer's
    for that partner; none for the federation service (it reads by assignment)."""
    groups = {
        (g.principal, g.resource_name)
        for g in all_grants(NAMES, APP, ("alpha", "bravo"))
        if g.resource_type is ResourceType.GROUP
    }
    assert groups == {
        ("User:scorer", "fraudstream-scorer"),
        ("User:alpha", "fraudstream-partner-alpha"),
        ("User:alpha", "fraudstream-trainer-alpha"),
        ("User:bravo", "fraudstream-partner-bravo"),
        ("User:bravo", "fraudstream-trainer-bravo"),
    }


def test_no_role_is_granted_create_on_its_data_topics() -> None:
    """CREATE is granted only on a Faust app's leader topic, never on a data topic or changelog
    (the admin creates those)."""
    created = {
        g.resource_name for g in all_grants(NAMES, APP, PARTNERS) if g.operation is Operation.CREATE
    }
    assert all(name.endswith("-__assignor-__leader") for name in created)


def test_the_admin_has_no_grant_and_user_names_follow_principals() -> None:
    """The admin is a super user, not a grantee; a partner's user may be renamed."""
    principals = Principals(partners={"alpha": "bank-a"})
    grants = all_grants(NAMES, APP, ("alpha",), principals)
    assert {g.principal for g in grants} == {"User:scorer", "User:federation", "User:bank-a"}


@pytest.mark.parametrize("partner", ["scorer", "admin", "federation"])
def test_a_partner_named_like_another_role_is_refused(partner: str) -> None:
    """A partner whose user name is the scorer's or the admin's would share its principal."""
    with pytest.raises(ConfigError, match="two roles"):
        all_grants(NAMES, APP, ("alpha", partner))


def test_partners_only_write_what_the_federation_service_reads_and_vice_versa() -> None:
    """Answers and masked vectors: partners write, never read (each other's); tasks and sums:
    the federation service writes, partners read; masking keys: partners publish and read the
    roster. The federation service reaches no partner's own topic."""
    alpha = {(g.resource_name, g.operation) for g in partner_grants(NAMES, APP, "alpha")}
    service = {(g.resource_name, g.operation) for g in federation_grants(NAMES, PARTNERS)}
    read, write = Operation.READ, Operation.WRITE
    assert {(n, o) for n, o in alpha if n in FEDERATION_SHARED} == {
        (NAMES.federation_answers(), write),
        (NAMES.masking_keys(), read),
        (NAMES.masking_keys(), write),
        (NAMES.contributions(), write),
        (NAMES.shared_counts(), read),
    }
    assert (NAMES.federation_tasks("alpha"), read) in alpha
    assert service == {
        (NAMES.federation_answers(), read),
        (NAMES.masking_keys(), read),
        (NAMES.contributions(), read),
        (NAMES.shared_counts(), write),
        *((NAMES.federation_tasks(p), write) for p in PARTNERS),
    }
    for partner in PARTNERS:
        own = partner_resources(partner) - {NAMES.federation_tasks(partner)}
        assert not {n for n, _ in service} & own


def test_the_grant_table_has_a_row_per_resource() -> None:
    """The docs table merges a resource's operations into one row."""
    table = grant_table(partner_grants(NAMES, APP, "alpha"))
    row = next(line for line in table.splitlines() if "`fraud.alpha.transactions.v1`" in line)
    assert row.startswith("| `User:alpha` | topic `fraud.alpha.transactions.v1` | READ, WRITE |")
