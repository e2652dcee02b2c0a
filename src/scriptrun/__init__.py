"""scriptrun: configure a training job once, run it anywhere, tracked in MLflow.

The public API keeps the names of the Azure ML SDK v1 training surface, so existing code
migrates by changing imports::

    from scriptrun import Experiment, ScriptRunConfig, Workspace

    ws = Workspace.from_config()          # or Workspace.create(".")
    src = ScriptRunConfig(source_directory=".", script="train.py", arguments=["--lr", 0.1])
    run = Experiment(ws, "demo").submit(src)
    run.wait_for_completion(show_output=True)

``import scriptrun`` is light: every public name is imported on first use (module
``__getattr__``), so the CLI and ``import scriptrun`` never load MLflow, Ray or torch, nor
build the spec's pydantic models, before they are needed.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from scriptrun.version import __version__

if _typing.TYPE_CHECKING:  # the eager imports, for type checkers and editors
    from scriptrun.compute.targets import (
        AmlCompute,
        ComputeTarget,
        ComputeTargetException,
        RayCluster,
    )
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
    from scriptrun.config.estimator import (
        Chainer,
        Estimator,
        PyTorch,
        SKLearn,
        TensorFlow,
    )
    from scriptrun.config.legacy_distributed import (
        Gloo,
        Mpi,
        Nccl,
        ParameterServer,
    )
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
    from scriptrun.environment import (
        CondaDependencies,
        Environment,
    )
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
    from scriptrun.hyperdrive.config import (
        HyperDriveConfig,
        PrimaryMetricGoal,
    )
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
    from scriptrun.pipeline.steps import (
        CommandStep,
        EstimatorStep,
        HyperDriveStep,
        PythonScriptStep,
    )
    from scriptrun.run_details import RunDetails
    from scriptrun.rundir import RunStatus
    from scriptrun.runs.experiment import Experiment
    from scriptrun.runs.run import Run
    from scriptrun.spec import JobSpec
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

# public name -> the module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    "AmlCompute": "scriptrun.compute.targets",
    "ComputeTarget": "scriptrun.compute.targets",
    "ComputeTargetException": "scriptrun.compute.targets",
    "RayCluster": "scriptrun.compute.targets",
    "ChildBatch": "scriptrun.config",
    "Data": "scriptrun.config",
    "DataLocation": "scriptrun.config",
    "DockerConfiguration": "scriptrun.config",
    "MpiConfiguration": "scriptrun.config",
    "ParallelTaskConfiguration": "scriptrun.config",
    "PyTorchConfiguration": "scriptrun.config",
    "RunConfiguration": "scriptrun.config",
    "ScriptRunConfig": "scriptrun.config",
    "TensorflowConfiguration": "scriptrun.config",
    "Chainer": "scriptrun.config.estimator",
    "Estimator": "scriptrun.config.estimator",
    "PyTorch": "scriptrun.config.estimator",
    "SKLearn": "scriptrun.config.estimator",
    "TensorFlow": "scriptrun.config.estimator",
    "Gloo": "scriptrun.config.legacy_distributed",
    "Mpi": "scriptrun.config.legacy_distributed",
    "Nccl": "scriptrun.config.legacy_distributed",
    "ParameterServer": "scriptrun.config.legacy_distributed",
    "DataPath": "scriptrun.data",
    "DataPathComputeBinding": "scriptrun.data",
    "DataReference": "scriptrun.data",
    "Dataset": "scriptrun.data",
    "DatasetConsumptionConfig": "scriptrun.data",
    "Datastore": "scriptrun.data",
    "FileDataset": "scriptrun.data",
    "OutputFileDatasetConfig": "scriptrun.data",
    "TabularDataset": "scriptrun.data",
    "CondaDependencies": "scriptrun.environment",
    "Environment": "scriptrun.environment",
    "ActivityFailedException": "scriptrun.errors",
    "AgentError": "scriptrun.errors",
    "ConfigError": "scriptrun.errors",
    "DataError": "scriptrun.errors",
    "EnvironmentBuildError": "scriptrun.errors",
    "Problem": "scriptrun.errors",
    "RunError": "scriptrun.errors",
    "ScriptrunError": "scriptrun.errors",
    "SnapshotError": "scriptrun.errors",
    "SubmitError": "scriptrun.errors",
    "WorkspaceError": "scriptrun.errors",
    "HyperDriveConfig": "scriptrun.hyperdrive.config",
    "PrimaryMetricGoal": "scriptrun.hyperdrive.config",
    "choice": "scriptrun.hyperdrive.expressions",
    "lognormal": "scriptrun.hyperdrive.expressions",
    "loguniform": "scriptrun.hyperdrive.expressions",
    "normal": "scriptrun.hyperdrive.expressions",
    "qlognormal": "scriptrun.hyperdrive.expressions",
    "qloguniform": "scriptrun.hyperdrive.expressions",
    "qnormal": "scriptrun.hyperdrive.expressions",
    "quniform": "scriptrun.hyperdrive.expressions",
    "randint": "scriptrun.hyperdrive.expressions",
    "uniform": "scriptrun.hyperdrive.expressions",
    "BanditPolicy": "scriptrun.hyperdrive.policy",
    "MedianStoppingPolicy": "scriptrun.hyperdrive.policy",
    "NoTerminationPolicy": "scriptrun.hyperdrive.policy",
    "TruncationSelectionPolicy": "scriptrun.hyperdrive.policy",
    "HyperDriveRun": "scriptrun.hyperdrive.run",
    "BayesianParameterSampling": "scriptrun.hyperdrive.sampling",
    "GridParameterSampling": "scriptrun.hyperdrive.sampling",
    "RandomParameterSampling": "scriptrun.hyperdrive.sampling",
    "Model": "scriptrun.models",
    "Pipeline": "scriptrun.pipeline.core",
    "PipelineData": "scriptrun.pipeline.core",
    "PipelineParameter": "scriptrun.pipeline.core",
    "PipelineRun": "scriptrun.pipeline.core",
    "PortDataReference": "scriptrun.pipeline.core",
    "PublishedPipeline": "scriptrun.pipeline.core",
    "StepRun": "scriptrun.pipeline.core",
    "StepSequence": "scriptrun.pipeline.core",
    "CommandStep": "scriptrun.pipeline.steps",
    "EstimatorStep": "scriptrun.pipeline.steps",
    "HyperDriveStep": "scriptrun.pipeline.steps",
    "PythonScriptStep": "scriptrun.pipeline.steps",
    "RunDetails": "scriptrun.run_details",
    "RunStatus": "scriptrun.rundir",
    "Experiment": "scriptrun.runs.experiment",
    "Run": "scriptrun.runs.run",
    "JobSpec": "scriptrun.spec",
    "Workspace": "scriptrun.workspace",
    "DEFAULT_CPU_IMAGE": "scriptrun.workspace.azure",
    "DEFAULT_GPU_IMAGE": "scriptrun.workspace.azure",
    "AzureCliAuthentication": "scriptrun.workspace.azure",
    "InteractiveLoginAuthentication": "scriptrun.workspace.azure",
    "MsiAuthentication": "scriptrun.workspace.azure",
    "ServicePrincipalAuthentication": "scriptrun.workspace.azure",
    "set_diagnostics_collection": "scriptrun.workspace.azure",
}

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
    "EstimatorStep",
    "Experiment",
    "FileDataset",
    "Gloo",
    "GridParameterSampling",
    "HyperDriveConfig",
    "HyperDriveRun",
    "HyperDriveStep",
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



def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'scriptrun' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
