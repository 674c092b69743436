"""The simulator's optional libraries (Ray, plotly, tqdm) live in the `sim` extra, not in every install.

`make demo` and `make test` install it; a service deployed without it still imports every module, and only
the parts that need these libraries answer with how to get them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from crowdship.errors import DomainError

SIM_EXTRA_HINT = "install the simulator's extra: `make demo`, or `pip install 'crowdship[sim]'`"


class MissingExtra(DomainError):
    """A feature whose library is not installed here."""

    def __init__(self, module: str, feature: str) -> None:
        super().__init__(f"{feature} needs `{module}`, which is not installed; {SIM_EXTRA_HINT}")
        self.module = module


def require(module: str, feature: str) -> ModuleType:
    """The module, or a `MissingExtra` naming the feature that needed it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is None or module.split(".", maxsplit=1)[0] != error.name.split(".")[0]:
            raise
        raise MissingExtra(module, feature) from None
