"""The processor runtime: declarations, the runner, metrics, logs and readiness."""

from command_center.runtime.processor import Context, Processor
from command_center.runtime.runner import ProcessorRunner

__all__ = ["Context", "Processor", "ProcessorRunner"]
