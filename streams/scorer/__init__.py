"""The shared scoring service: evaluation keys and the server circuit, never a secret key.

- :mod:`~streams.scorer.agent`: score each encrypted request, route its verdict;
- :mod:`~streams.scorer.fhe_pool`: the FHE evaluation processes;
- :mod:`~streams.scorer.key_follower`: every partner's evaluation keys, from their topics;
- :mod:`~streams.scorer.worker`: the scorer's worker process.

Import-linter contracts forbid this folder (and the CLI module that starts it) the partner's
folder and the client side of the FHE code; a test checks a started scorer's ``sys.modules``.
"""

__all__ = ["agent", "fhe_pool", "key_follower", "worker"]
