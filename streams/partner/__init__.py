"""Inside the bank: everything that holds the partner's secret key or sees its plaintext.

- :mod:`~streams.partner.gateway`: validate, features, encrypt, request a score;
- :mod:`~streams.partner.decryptor`: join verdicts with their requests, decrypt, score, alert;
- :mod:`~streams.partner.key_publisher`: publish the evaluation keys, signed, once per key id;
- :mod:`~streams.partner.alert_follower`: the fraud team's live view of its alerts;
- :mod:`~streams.partner.alerts_page`: the fraud team's live alerts page (its window in
  :mod:`~streams.partner.alerts_window`, its document in :mod:`~streams.partner.alerts_page_html`);
- :mod:`~streams.partner.worker`: the partner's worker process;
- :mod:`~streams.partner.context`: its keys, threshold and request-id secret.

Nothing in :mod:`streams.scorer` may import this folder (an import-linter contract).
"""

__all__ = [
    "alert_follower",
    "alerts_page",
    "alerts_page_html",
    "alerts_window",
    "context",
    "decryptor",
    "gateway",
    "key_publisher",
    "worker",
]
