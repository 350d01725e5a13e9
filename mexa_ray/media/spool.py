"""The node-local media spool: the files readers open for media that came as bytes.

The ingress writes each upload (and each fetched URL) here before probing it; an expert on
another node writes the bytes it got from the object store here before reading them. A file is
named by its SHA-256, so a node holds one copy however many requests or experts read it. A
service that runs for months cannot keep them all, and users' files (recordings, scans) should
not outlive their answers:

- the ingress holds the files of a request while it is answered and deletes them after, unless
  another request of the same replica holds them;
- every use of a file refreshes its time, and a file unused for `max_age_s` is removed;
- the spool stays under `max_bytes`: least recently used files are evicted first;
- a file used within the last `hold_s` (the request deadline: another process on the node may be
  reading it for a request still in progress) is never evicted, so when every file is that
  recent, or the disk is below `min_free_bytes`, a new file is refused (`SpoolFull`, a 503 with
  Retry-After) instead of overfilling the disk.

Sweeps run when a process starts, from the replicas' health checks (every few seconds; an idle
service still forgets old files) and on a write that the last count puts near the cap. Holds
are per process: two ingress replicas on one node that receive the same bytes at once share a
file, and the first to answer deletes it; an expert that then finds it gone writes it again
from the query's bytes, unless it was between finding the file and opening it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mexa_ray.config import SpoolSpec
from mexa_ray.errors import Unavailable

log = logging.getLogger(__name__)

#: what a partly written file is called until it is complete (never read, never counted)
PARTIAL = ".part"
#: seconds past the request deadline a file stays protected from eviction after its last use
HOLD_MARGIN_S = 5.0


class SpoolFull(Unavailable):
    """The spool cannot take a file now (its cap, with every file in use, or the disk's floor)."""

    type = "spool_full"


@dataclass
class SpoolStats:
    files: int = 0
    bytes: int = 0
    evicted: int = 0
    refused: int = 0


def spool_dir(spec: SpoolSpec) -> Path:
    if spec.dir:
        return Path(spec.dir)
    return Path(os.environ.get("MEXA_MEDIA_CACHE", Path(tempfile.gettempdir()) / "mexa-media"))


class Spool:
    """One process's view of the node's spool directory (other processes share the files)."""

    def __init__(self, spec: SpoolSpec, hold_s: float) -> None:
        """`hold_s`: the longest a request may take (its deadline); a few seconds are added
        for the hops that answer just past it."""
        self.spec = spec
        self.hold_s = hold_s + HOLD_MARGIN_S
        self.root = spool_dir(spec)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._held: Counter[Path] = Counter()
        self.stats = SpoolStats()
        self.sweep()  # the count of what earlier processes left, and their old files gone

    def path(self, sha256: str, fmt: str) -> Path:
        return self.root / f"{sha256}.{fmt}"

    def put(self, data: bytes, fmt: str) -> tuple[Path, str]:
        """The file holding `data` (written once), and its SHA-256; raises SpoolFull."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.path(sha, fmt)
        with self._lock:
            if self.touch(path):
                return path, sha
            self._make_room(len(data))
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=PARTIAL)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)  # atomic: readers never see a half-written file
            self.stats.files += 1
            self.stats.bytes += len(data)
        return path, sha

    def touch(self, path: Path) -> bool:
        """Mark a file used now; False if it is not there (evicted, or never written)."""
        try:
            os.utime(path)
            return True
        except FileNotFoundError:
            return False

    def hold(self, paths: list[Path]) -> None:
        with self._lock:
            self._held.update(paths)

    def release(self, paths: list[Path]) -> None:
        """Drop a request's hold; a file no other request of this process holds is deleted."""
        with self._lock:
            for path in paths:
                self._held[path] -= 1
                if self._held[path] <= 0:
                    del self._held[path]
                    path.unlink(missing_ok=True)

    def sweep(self) -> SpoolStats:
        """Remove files past their age, then least recently used ones over the cap."""
        with self._lock:
            self._evict(0)
            # holds of requests that never reached their answer (a client gone before its
            # stream started) end with their file
            for path in [p for p in self._held if not p.exists()]:
                del self._held[path]
            return self.stats

    def _files(self) -> list[tuple[float, int, Path]]:
        """The complete files, least recently used first; a partial file older than any write
        takes (its writer died) is removed."""
        out = []
        stale = time.time() - self.hold_s
        for entry in os.scandir(self.root):
            if not entry.is_file(follow_symlinks=False):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # another process removed it meanwhile
                continue
            if entry.name.endswith(PARTIAL):
                if st.st_mtime < stale:
                    Path(entry.path).unlink(missing_ok=True)
                continue
            out.append((st.st_mtime, st.st_size, Path(entry.path)))
        return sorted(out)

    def _evict(self, incoming: int) -> int:
        """Evict what age and the cap ask (and room for `incoming` bytes); the bytes left."""
        now = time.time()
        files = self._files()
        total = sum(size for _, size, _ in files)
        left = len(files)
        for used, size, path in files:
            # a request in progress used its files within its deadline (a hold of one that
            # never reached its answer must not keep a file for ever)
            in_use = now - used < self.hold_s
            too_old = now - used > self.spec.max_age_s
            over = total + incoming > self.spec.max_bytes
            if in_use or not (too_old or over):
                continue
            path.unlink(missing_ok=True)
            total -= size
            left -= 1
            self.stats.evicted += 1
        self.stats.files, self.stats.bytes = left, total
        return total

    def _make_room(self, size: int) -> None:
        # the directory is scanned only when the last count says the cap is near: a spool of
        # thousands of files is not listed on every upload (the health checks' sweeps keep the
        # count, and the age limit, up to date)
        if self.stats.bytes + size <= self.spec.max_bytes:
            total = self.stats.bytes
        else:
            total = self._evict(size)
        if total + size > self.spec.max_bytes:
            self._refuse(
                f"the media spool is full ({total} of {self.spec.max_bytes} bytes in use by "
                "requests in progress); retry shortly"
            )
        free = shutil.disk_usage(self.root).free
        if free - size < self.spec.min_free_bytes:
            self._refuse("the server is short of disk space for media; retry shortly")

    def _refuse(self, message: str) -> None:
        self.stats.refused += 1
        log.warning("media spool: %s", message)
        raise SpoolFull(message, self.spec.retry_after_s)
