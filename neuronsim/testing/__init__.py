"""Testing toolkit for code that runs on neuronsim: a pytest plugin (``neuronsim.testing.plugin``, loaded
automatically), hypothesis strategies (``neuronsim.testing.strategies``) and the ``nrta`` contract state
machine (``neuronsim.testing.contract``). The latter two need the ``hypothesis`` package."""
