"""Request limits per client: so that one API key (or one address, when keys are off) cannot take
the whole service. A moving window of requests per minute (the `limits` library's) and a count
of requests in progress; past either, a 429 with `Retry-After`, which OpenAI-compatible clients
back off on. The counts are per ingress replica: with N replicas a client may get up to N times
the limit, spread as Serve spreads its requests.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from mexa_ray.config import RateLimitSpec
from mexa_ray.errors import TooManyRequests


class RateLimiter:
    def __init__(self, spec: RateLimitSpec) -> None:
        self.spec = spec
        self.window = (
            RateLimitItemPerMinute(spec.requests_per_minute) if spec.requests_per_minute else None
        )
        self.limiter = MovingWindowRateLimiter(MemoryStorage()) if self.window else None
        self._lock = threading.Lock()
        self._in_progress: Counter[str] = Counter()

    @property
    def active(self) -> bool:
        return self.window is not None or self.spec.concurrent is not None

    def acquire(self, client: str) -> None:
        """Count a request of `client` in; raises TooManyRequests. Pair with `release`."""
        with self._lock:
            if (
                self.spec.concurrent is not None
                and self._in_progress[client] >= self.spec.concurrent
            ):
                raise TooManyRequests(
                    f"{self.spec.concurrent} requests of this client are in progress, the "
                    "limit; retry when one is answered",
                    self.spec.retry_after_s,
                )
            if self.limiter is not None and self.window is not None:
                if not self.limiter.hit(self.window, client):
                    reset = self.limiter.get_window_stats(self.window, client).reset_time
                    raise TooManyRequests(
                        f"more than {self.spec.requests_per_minute} requests a minute from this "
                        "client, the limit",
                        max(1.0, math.ceil(reset - time.time())),
                    )
            self._in_progress[client] += 1

    def release(self, client: str) -> None:
        with self._lock:
            self._in_progress[client] -= 1
            if self._in_progress[client] <= 0:
                del self._in_progress[client]
