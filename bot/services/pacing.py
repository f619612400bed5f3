"""A token-bucket pacer: keeps a burst of work under a global request rate (Discord allows 50
requests per second per bot; going over earns a global 429 for every feature)."""

from __future__ import annotations

import asyncio
import time


class Pacer:
    """``await pacer.wait()`` before each request: at most ``rate`` per second on average, with
    bursts of at most ``burst``. Waiters are served in order."""

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)
