# Runs in an environment whose conda package `six` is installed with pip (no conda here).
import six
from azureml.core import Run

run = Run.get_context()
run.log("six_version", six.__version__)
print("six", six.__version__)
