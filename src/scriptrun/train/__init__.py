"""v1's ``azureml.train``: ``estimator``, ``dnn``, ``sklearn`` and ``hyperdrive`` live in the
submodules (thin re-exports of ``scriptrun.config`` and ``scriptrun.hyperdrive``)."""
