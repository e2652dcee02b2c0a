"""scriptrun: configure a training job once, run it anywhere, tracked in MLflow."""

__version__ = "0.1.0"
