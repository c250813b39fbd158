"""The model engineer's offline tools: fit, compile, measure, assess and compare FHE models.

Runs on the engineer's machine (``fraudstream model train|assess|sweep``), never inside a
partner or a scorer; pandas, scikit-learn, xgboost and matplotlib are allowed here and only here.

- :mod:`models.training.protocol`: the handbook's train/test split and its three metrics;
- :mod:`models.training.binning_fit`: the binning's cut points;
- :mod:`models.training.fitting`: model knobs, features of the protocol, fit and compile;
- :mod:`models.training.measure`: real FHE execution of saved artifacts, timed;
- :mod:`models.training.report`: model cards and assessment tables;
- :mod:`models.training.assessment`: a saved model against the plaintext baselines;
- :mod:`models.training.sweep`: the cost/quality frontier over a grid of models.

Its output, a model version (:func:`models.fhe.artifacts.save_artifacts`), is what partners and
scorers load.
"""

__all__: list[str] = []
