"""The tenant web console: server-rendered pages over the same JSON API the SDKs use.

`mount(app)` is called once by `create_app`; nothing here runs at import time.
"""

from __future__ import annotations

from maas.console.mount import mount

__all__ = ["mount"]
