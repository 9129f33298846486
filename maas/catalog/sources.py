"""Locate a manifest's weights on this machine without downloading anything.

`locate` is cheap (no imports of model packages, no file writes) so the gateway can use
it to decide availability; `materialise` may write (e.g. assemble a split GGUF into the
cache) and is only called by the worker that will load the weights.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from maas.catalog.models import ModelSource


@dataclass(frozen=True)
class SourceLocation:
    """Where the weights are, or why they are not here."""

    path: Path | None
    reason: str | None = None

    @property
    def found(self) -> bool:
        return self.path is not None


def package_dir(package: str) -> Path | None:
    """Directory of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package.replace("-", "_"))
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def locate(source: ModelSource) -> SourceLocation:
    if source.hf:
        return SourceLocation(
            None, f"weights come from hub id {source.hf!r}, which this platform never downloads "
            "at run time; pre-load them on the serving host or use a local path",
        )
    if source.path:
        path = Path(source.path).expanduser()
        return SourceLocation(path) if path.exists() else SourceLocation(
            None, f"local path {path} does not exist"
        )
    assert source.package
    directory = package_dir(source.package)
    if directory is None:
        return SourceLocation(
            None, f"package {source.package!r} is not installed (pip install {source.package})"
        )
    if source.assemble:
        return SourceLocation(directory)
    path = directory / source.file if source.file else directory
    return SourceLocation(path) if path.exists() else SourceLocation(
        None, f"{path} is missing from package {source.package!r}"
    )


def materialise(source: ModelSource, cache_dir: Path) -> Path:
    """Return a readable path to the weights, assembling split packages into `cache_dir`."""
    location = locate(source)
    if not location.found:
        raise FileNotFoundError(location.reason)
    if not source.assemble:
        assert location.path is not None
        return location.path
    module = importlib.import_module(source.package.replace("-", "_"))  # type: ignore[union-attr]
    name = source.file or getattr(module, "MODEL_NAME", "model.gguf")
    target = cache_dir / "assembled" / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".partial")
        module.assemble(partial, overwrite=True)
        partial.replace(target)
    return target
