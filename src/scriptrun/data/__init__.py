"""Data: datastores (fsspec URLs), versioned datasets, and how jobs consume and produce them.

``datastore.py`` (``Datastore``), ``datapath.py`` (``DataPath``, ``DataReference``),
``dataset.py`` (``Dataset``, ``FileDataset``, ``TabularDataset``), ``consumption.py``
(``DatasetConsumptionConfig``), ``output.py`` (``OutputFileDatasetConfig``); the agent side
is ``materialize.py`` and the submit side ``resolve.py``. Nothing here imports fsspec or
pandas until data is actually read or written.
"""

from scriptrun.data.consumption import DatasetConsumptionConfig
from scriptrun.data.datapath import DataPath, DataPathComputeBinding, DataReference
from scriptrun.data.dataset import Dataset, FileDataset, TabularDataset
from scriptrun.data.datastore import Datastore
from scriptrun.data.output import OutputFileDatasetConfig

__all__ = [
    "DataPath",
    "DataPathComputeBinding",
    "DataReference",
    "Dataset",
    "DatasetConsumptionConfig",
    "Datastore",
    "FileDataset",
    "OutputFileDatasetConfig",
    "TabularDataset",
]
