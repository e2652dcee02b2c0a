"""scriptrun: configure a training job once, run it anywhere, tracked in MLflow.

The public API keeps the names of the Azure ML SDK v1 training surface, so existing code
migrates by changing imports::

    from scriptrun import Experiment, ScriptRunConfig, Workspace

    ws = Workspace.from_config()          # or Workspace.create(".")
    src = ScriptRunConfig(source_directory=".", script="train.py", arguments=["--lr", 0.1])
    run = Experiment(ws, "demo").submit(src)
    run.wait_for_completion(show_output=True)

``import scriptrun`` never imports MLflow or Ray: they load only where they are used.
"""

from scriptrun import assets as _assets  # noqa: F401  (plugs the Workspace asset views in)
from scriptrun.compute.targets import AmlCompute, ComputeTarget, ComputeTargetException, RayCluster
from scriptrun.config import (
    ChildBatch,
    Data,
    DataLocation,
    DockerConfiguration,
    MpiConfiguration,
    ParallelTaskConfiguration,
    PyTorchConfiguration,
    RunConfiguration,
    ScriptRunConfig,
    TensorflowConfiguration,
)
from scriptrun.config.estimator import Chainer, Estimator, PyTorch, SKLearn, TensorFlow
from scriptrun.config.legacy_distributed import Gloo, Mpi, Nccl, ParameterServer
from scriptrun.data import (
    DataPath,
    DataPathComputeBinding,
    DataReference,
    Dataset,
    DatasetConsumptionConfig,
    Datastore,
    FileDataset,
    OutputFileDatasetConfig,
    TabularDataset,
)
from scriptrun.environment import CondaDependencies, Environment
from scriptrun.errors import (
    ActivityFailedException,
    AgentError,
    ConfigError,
    DataError,
    EnvironmentBuildError,
    Problem,
    RunError,
    ScriptrunError,
    SnapshotError,
    SubmitError,
    WorkspaceError,
)
from scriptrun.hyperdrive.config import HyperDriveConfig, PrimaryMetricGoal
from scriptrun.hyperdrive.expressions import (
    choice,
    lognormal,
    loguniform,
    normal,
    qlognormal,
    qloguniform,
    qnormal,
    quniform,
    randint,
    uniform,
)
from scriptrun.hyperdrive.policy import (
    BanditPolicy,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    TruncationSelectionPolicy,
)
from scriptrun.hyperdrive.run import HyperDriveRun
from scriptrun.hyperdrive.sampling import (
    BayesianParameterSampling,
    GridParameterSampling,
    RandomParameterSampling,
)
from scriptrun.models import Model
from scriptrun.pipeline.core import (
    Pipeline,
    PipelineData,
    PipelineParameter,
    PipelineRun,
    PortDataReference,
    PublishedPipeline,
    StepRun,
    StepSequence,
)
from scriptrun.pipeline.steps import CommandStep, PythonScriptStep
from scriptrun.run_details import RunDetails
from scriptrun.rundir import RunStatus
from scriptrun.runs.experiment import Experiment
from scriptrun.runs.run import Run
from scriptrun.spec import JobSpec
from scriptrun.version import __version__
from scriptrun.workspace import Workspace
from scriptrun.workspace.azure import (
    DEFAULT_CPU_IMAGE,
    DEFAULT_GPU_IMAGE,
    AzureCliAuthentication,
    InteractiveLoginAuthentication,
    MsiAuthentication,
    ServicePrincipalAuthentication,
    set_diagnostics_collection,
)

VERSION = __version__  # v1's azureml.core.VERSION

__all__ = [
    "ActivityFailedException",
    "AgentError",
    "AmlCompute",
    "AzureCliAuthentication",
    "BanditPolicy",
    "BayesianParameterSampling",
    "Chainer",
    "ChildBatch",
    "CommandStep",
    "ComputeTarget",
    "ComputeTargetException",
    "CondaDependencies",
    "ConfigError",
    "DEFAULT_CPU_IMAGE",
    "DEFAULT_GPU_IMAGE",
    "Data",
    "DataError",
    "DataLocation",
    "DataPath",
    "DataPathComputeBinding",
    "DataReference",
    "Dataset",
    "DatasetConsumptionConfig",
    "Datastore",
    "DockerConfiguration",
    "Environment",
    "EnvironmentBuildError",
    "Estimator",
    "Experiment",
    "FileDataset",
    "Gloo",
    "GridParameterSampling",
    "HyperDriveConfig",
    "HyperDriveRun",
    "InteractiveLoginAuthentication",
    "JobSpec",
    "MedianStoppingPolicy",
    "Model",
    "Mpi",
    "MpiConfiguration",
    "MsiAuthentication",
    "Nccl",
    "NoTerminationPolicy",
    "OutputFileDatasetConfig",
    "ParallelTaskConfiguration",
    "ParameterServer",
    "Pipeline",
    "PipelineData",
    "PipelineParameter",
    "PipelineRun",
    "PortDataReference",
    "PrimaryMetricGoal",
    "Problem",
    "PublishedPipeline",
    "PyTorch",
    "PyTorchConfiguration",
    "PythonScriptStep",
    "RandomParameterSampling",
    "RayCluster",
    "Run",
    "RunConfiguration",
    "RunDetails",
    "RunError",
    "RunStatus",
    "SKLearn",
    "ScriptRunConfig",
    "ScriptrunError",
    "ServicePrincipalAuthentication",
    "SnapshotError",
    "StepRun",
    "StepSequence",
    "SubmitError",
    "TabularDataset",
    "TensorFlow",
    "TensorflowConfiguration",
    "TruncationSelectionPolicy",
    "VERSION",
    "Workspace",
    "WorkspaceError",
    "choice",
    "lognormal",
    "loguniform",
    "normal",
    "qlognormal",
    "qloguniform",
    "qnormal",
    "quniform",
    "randint",
    "set_diagnostics_collection",
    "uniform",
]
