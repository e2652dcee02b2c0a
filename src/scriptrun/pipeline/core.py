"""v1's ``azureml.pipeline.core``: re-exports only."""

from scriptrun.pipeline.parameter import PipelineParameter
from scriptrun.pipeline.pipeline import Pipeline
from scriptrun.pipeline.pipeline_data import PipelineData, PipelineOutputFileDataset
from scriptrun.pipeline.pipeline_run import PipelineRun, PortDataReference, StepRun
from scriptrun.pipeline.published import PublishedPipeline
from scriptrun.pipeline.step import PipelineStep, StepSequence

__all__ = ["Pipeline", "PipelineData", "PipelineOutputFileDataset", "PipelineParameter", "PipelineRun",
           "PipelineStep", "PortDataReference", "PublishedPipeline", "StepRun", "StepSequence"]
