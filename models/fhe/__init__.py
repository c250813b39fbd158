"""FHE in deployment: what runs on the partner, what runs on the scorer, and what both share.

- client part, on the partner only: :mod:`models.fhe.client` (the secret key, the seed it is made
  from, encryption of features and decryption of verdicts);
- server part, on the scorer: :mod:`models.fhe.server` (evaluates encrypted requests with the
  partners' evaluation keys; it never imports the client part);
- on both: :mod:`models.fhe.artifacts` (the versioned client and server parts of a model),
  :mod:`models.fhe.envelope` (what travels around each ciphertext), :mod:`models.fhe.proof`
  (signatures binding a key id to its evaluation keys) and :mod:`models.fhe.binning` (the
  partner's plaintext pre-processing, stored in the client artifact);
- for any process that evaluates: :mod:`models.fhe.exit_status` (a failing process keeps its exit
  status, which Concrete's exit handler would overwrite with 0) and :mod:`models.fhe.idle_threads`
  (the runtime's idle threads sleep instead of spinning).

Nothing here loads a training library (pandas, scikit-learn, xgboost, matplotlib) or
:mod:`models.training` / :mod:`models.data`: import-linter contracts check both boundaries.
Import the module you need; the package itself loads nothing. Importing it sets the FHE
runtime's idle settings in the process environment (:mod:`models.fhe.idle_threads`): the
runtimes read them when they start, at the first key generation, encryption or evaluation,
which may come before any :class:`~models.fhe.server.ScoringServer` exists.
"""

from models.fhe.idle_threads import quiet_idle_threads

__all__: list[str] = []

quiet_idle_threads()
