"""The runtime layer: one simulated host process of the Neuron Runtime, as state and operations.

:class:`~neuronsim.runtime.process.RuntimeProcess` (over :mod:`~neuronsim.runtime.memory` and
:mod:`~neuronsim.runtime.state`) holds a process's cores, tensors, models, execution units, device memory
and waits; :mod:`~neuronsim.runtime.requests` the requests its queues run; :mod:`~neuronsim.runtime.neff`,
:mod:`~neuronsim.runtime.neff_file` and :mod:`~neuronsim.runtime.neff_description` the NEFF (the model, a
compiled file, the neuronsim description). The C mirror over it is the API layer, :mod:`neuronsim.api`
(``neuronsim.runtime.nrta`` and ``neuronsim.runtime.nrta_2_28`` re-export its classes at their former paths).
"""
