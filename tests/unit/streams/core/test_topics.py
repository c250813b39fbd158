"""Topic naming and declarations."""

from __future__ import annotations

from streams.core.topics import PARTNER_TABLES, TopicNames, topic_specs


def test_names_follow_the_scheme() -> None:
    """Every name is <root>.<scope>.<entity>.v<N>."""
    names = TopicNames("fraud")
    assert names.transactions("alpha") == "fraud.alpha.transactions.v1"
    assert names.deadletter("alpha") == "fraud.alpha.deadletter.v1"
    assert names.scoring_requests() == "fraud.scoring.requests.v1"
    assert names.verdicts("bravo") == "fraud.bravo.verdicts.v1"


def test_specs_cover_every_partner_and_keep_dead_letters_apart() -> None:
    """Each partner has its own topics, its own dead letters and its own compacted keys topic."""
    specs = {
        s.name: s
        for s in topic_specs(TopicNames(), ["a", "b"], partitions=3, max_message_bytes=8 << 20)
    }
    assert len(specs) == 2 * 10 + 2 + 2 + 4  # each partner's, the scorer's, the federation's
    assert {"fraud.a.deadletter.v1", "fraud.b.deadletter.v1", "fraud.scoring.deadletter.v1"} <= set(
        specs
    )
    assert specs["fraud.a.keys.v1"].config["cleanup.policy"] == "compact"
    assert specs["fraud.b.keys.v1"].partitions == 1
    assert "fraud.scoring.keys.v1" not in specs
    assert specs["fraud.a.verdicts.v1"].config["max.message.bytes"] == str(8 << 20)
    assert all(len(name.split(".")) == 4 for name in specs)
    assert specs["fraud.a.federation-tasks.v1"].partitions == 1
    assert specs["fraud.federation.shared-counts.v1"].config["cleanup.policy"] == "compact"
    assert specs["fraud.federation.masking-keys.v1"].config == {"cleanup.policy": "compact"}


def test_changelogs_of_partner_tables_are_declared_with_the_topics() -> None:
    """With an app id, the partner workers' table changelogs are declared too, compacted, with
    the partition count of the topics they mirror (Faust's names)."""
    specs = {
        s.name: s
        for s in topic_specs(
            TopicNames(), ["a"], partitions=3, max_message_bytes=8 << 20, app_id="fs"
        )
    }
    for table in PARTNER_TABLES:
        spec = specs[f"fs-partner-a-{table}-changelog"]
        assert spec.partitions == 3
        assert spec.config["cleanup.policy"] == "compact"
