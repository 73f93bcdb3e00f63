"""Alias of ``vlmfiles.exceptions`` under the official SDK's path (``vlmrun.client.exceptions``)."""

from ..exceptions import *  # noqa: F403
from ..exceptions import __all__  # noqa: F401
