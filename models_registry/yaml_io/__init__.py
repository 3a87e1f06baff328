"""Providers files (SPEC §8): a strict loader, the format's validation, import and export."""

from models_registry.yaml_io.exporter import ExportError, export_document, export_providers
from models_registry.yaml_io.importer import ImportReport, import_providers
from models_registry.yaml_io.loader import YamlLoadError, load_yaml
from models_registry.yaml_io.schema import DocumentErrors, parse_document

__all__ = [
    "DocumentErrors",
    "ExportError",
    "ImportReport",
    "YamlLoadError",
    "export_document",
    "export_providers",
    "import_providers",
    "load_yaml",
    "parse_document",
]
