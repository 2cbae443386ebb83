"""Model export: one traced inference function -> frozen graph, SavedModel, TFLite (float, int8).

See export_lib.exporter for the contract and why it is shaped this way.
"""
from export_lib.exporter import (  # noqa: F401
    ExportResult, export_all, export_model, inference_fn_from_model, verify_formats,
)
