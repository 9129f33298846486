"""A short-lived, in-process cache of authenticated keys for the request hot path.

Without it every API call costs a database round trip in a thread. The TTL bounds how
long a revocation made by another process (the CLI, another gateway replica) takes to
apply; revocations made through this process evict at once.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from maas.tenancy.principal import Principal


class PrincipalCache:
    def __init__(self, ttl: float = 5.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    def get(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        stored_at, principal = entry
        if time.monotonic() - stored_at > self.ttl:
            del self._entries[key_hash]
            return None
        return principal

    def put(self, key_hash: str, principal: Principal) -> None:
        self._entries[key_hash] = (time.monotonic(), principal)
        self._entries.move_to_end(key_hash)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def evict_key(self, key_id: str) -> None:
        for key_hash, (_, principal) in list(self._entries.items()):
            if principal.key_id == key_id:
                del self._entries[key_hash]

    def clear(self) -> None:
        """Forget everything (after a change that affects many principals: a plan,
        a tenant, a membership, a sign-out)."""
        self._entries.clear()
