"""The public op functions under the name the package's modules import them by (``from . import _ops``).

They are defined in ``_api.py``, written from the op table by ``python -m jforeach._gen_api``.
"""

from ._api import *  # noqa: F403 - the op functions, listed in _api.__all__
from ._api import __all__ as __all__
