"""The model side: data, features, training, FHE artifacts, keys and scoring (synchronous).

Never imports faust, asyncio or ``streams``. Importing the package loads nothing: import the
module that defines what you need (``models.data.handbook``, ``models.fhe.server`` …).

- :mod:`models.data`: the bundled handbook transactions and their split between partners;
  a fraud team's own labelled transactions, read and checked as a feature spec says.
- :mod:`models.features`: the 15 features, one definition for batch and stream.
- :mod:`models.fhe`: what runs in FHE deployment (partner and scorer).
- :mod:`models.training`: the model engineer's offline tools.
"""

__all__ = ["data", "features", "fhe", "training"]
