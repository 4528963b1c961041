"""Pipelines (one per Dispatch kind, as YAML beside this file) and how custom/ overrides them and their steps."""

from controller.pipelines.catalog import (
    DEFAULT_PROVIDER,
    KINDS,
    Catalog,
    CatalogError,
    CustomFile,
    Module,
    Pipeline,
    load_catalog,
    module_id,
)

__all__ = [
    "DEFAULT_PROVIDER",
    "KINDS",
    "Catalog",
    "CatalogError",
    "CustomFile",
    "Module",
    "Pipeline",
    "load_catalog",
    "module_id",
]
