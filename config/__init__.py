"""pipeline.config schema (pipeline.proto), loader and validation.

    from config import load_pipeline
    cfg = load_pipeline("ssd.config")
"""
from config.loader import (apply_overrides, load_pipeline, loads_pipeline, parse_pipeline,
                           resolve_config_path, save_pipeline, validate)
from config.pipeline_pb2 import TrainEvalPipelineConfig

__all__ = [
    "TrainEvalPipelineConfig",
    "apply_overrides",
    "load_pipeline",
    "loads_pipeline",
    "parse_pipeline",
    "resolve_config_path",
    "save_pipeline",
    "validate",
]
