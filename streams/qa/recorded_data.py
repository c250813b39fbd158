"""Labelled transactions from a recording made by ``fraudstream record``, checked like a file.

A recording of what a partner sent holds transaction events (topics
``<root>.<partner>.transactions.v<N>``) and label events (``<root>.<partner>.labels.v<N>``).
A transaction event is a JSON object whose keys are the event field names (``transaction_id``,
``timestamp`` in ISO 8601, ``card_id``, ``amount`` and the spec's declared fields; ``partner_id``
and any other key are ignored); a label event names a fraudulent transaction by its
``transaction_id``. Backfill history (``fraud.backfill: 1``) is kept: it is history too.
Messages on other topics are ignored.

The events go through the same checks as a JSON-lines file (:mod:`models.data.sources`), with
the field names as columns and ISO 8601 times (naive ones in UTC); a problem's row is the
message's line in the recording (the header is line 1). A transaction with a label event is
labelled 1, every other 0; a label event for a transaction the recording does not hold is an
error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.data.columns import ConvertedRows, FieldRule, convert_rows, event_rules
from models.data.json_rows import json_frame, parse_objects
from models.data.problem_log import ProblemLog
from models.data.sources import DataError, DataProblem, TransactionData
from models.data.transaction_data import EventPart, LabelPart, assemble
from models.features.spec import FeatureSpec, Timestamps
from streams.core.errors import RecordingError
from streams.qa.recording_file import RecordedMessage, read_recording
from streams.qa.replay_plan import ReplayMessage

__all__ = ["transaction_data_from_recording"]

#: Events carry ISO 8601 times, whatever a data file's spec says.
_EVENT_TIMES = Timestamps()
_LABEL_RULES = (FieldRule("transaction_id", "transaction_id", "id"),)

Values = list[tuple[int, bytes | None]]


def transaction_data_from_recording(path: Path, spec: FeatureSpec) -> TransactionData:
    """The transactions of the recording at ``path``, labelled by its label events, checked
    against ``spec``; :class:`DataError` lists every problem found."""
    file = str(path)
    transactions, labels = _event_values(path)
    log = ProblemLog()
    if not transactions:
        log.add(file, None, None, "no transaction events (no <root>.<partner>.transactions.v<N>)")
        raise log.error()
    converted = _checked(transactions, event_rules(spec, mapped=False), file, log)
    if converted is None:
        raise log.error()  # no transaction event could be read: each one was logged
    label_parts = []
    checked = _checked(labels, _LABEL_RULES, file, log)
    if checked is not None and len(checked.frame):
        ids = checked.frame["transaction_id"].to_numpy(np.int64)
        ones = np.ones_like(ids)
        label_parts.append(LabelPart(file, "transaction_id", "label", ids, ones, checked.rows))
    return assemble(
        [EventPart(file, "transaction_id", converted)],
        label_parts,
        log,
        fields=spec.fields,
        sources=[file],
        all_read=True,
    )


def _event_values(path: Path) -> tuple[Values, Values]:
    """The values of the transaction events and of the label events, with their lines."""
    transactions: Values = []
    labels: Values = []
    try:
        for line, item in enumerate(read_recording(path), start=1):
            if not isinstance(item, RecordedMessage):
                continue  # the header
            message = ReplayMessage(item.topic, item.key, item.value, item.headers)
            if message.is_transaction:
                transactions.append((line, item.value))
            elif message.is_label:
                labels.append((line, item.value))
    except RecordingError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        raise DataError([DataProblem(str(path), None, None, reason)]) from exc
    return transactions, labels


def _checked(
    values: Values, rules: Sequence[FieldRule], file: str, log: ProblemLog
) -> ConvertedRows | None:
    """The events that pass every check (``None`` if none could be read as a JSON object with
    the required keys: what was wrong is logged)."""
    objects, rows = parse_objects(values, file, log)
    raw = json_frame(objects, rows, rules, file=file, log=log) if objects else None
    if raw is None:
        return None
    return convert_rows(
        raw.raw,
        rules,
        file=file,
        rows=raw.rows,
        log=log,
        timestamps=_EVENT_TIMES,
        reported=raw.reported,
    )
