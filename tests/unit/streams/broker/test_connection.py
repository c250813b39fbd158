"""A patient client (a worker's, the bench's own) waits at least 30 s for the broker; a longer
wait that the user set stays."""

from __future__ import annotations

import pytest

from streams.broker.connection import PATIENT_CONNECT_TIMEOUT_S, kafka_python_config, patient
from streams.core.settings import PartnerSettings


@pytest.mark.parametrize(("given", "kept"), [(3.0, PATIENT_CONNECT_TIMEOUT_S), (120.0, 120.0)])
def test_a_patient_client_waits_at_least_30_s(given: float, kept: float) -> None:
    settings = patient(PartnerSettings(connect_timeout_s=given))
    assert isinstance(settings, PartnerSettings)
    assert settings.connect_timeout_s == kept
    assert kafka_python_config(settings)["bootstrap_timeout_ms"] == int(kept * 1000)
