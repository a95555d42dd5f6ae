"""Public names of a package, each imported on first use: ``import corrflow.store`` stays as
light as the standard library, so the Snakefile can read ``corrflow.store.blocks`` at parse
time without pandas, while ``corrflow.store.read_all_pairs`` still works."""

from collections.abc import Callable
from importlib import import_module


def lazy_api(package: str, api: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` whose public ``name`` lives in its
    submodule ``api[name]``."""

    def __getattr__(name: str):
        if name in api:
            return getattr(import_module(f"{package}.{api[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(api)

    return __getattr__, __dir__
