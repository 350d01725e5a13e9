"""The media spool on a real directory: one file per content, a size cap kept by evicting the
least recently used files, an age limit, files of a request in progress never evicted (a new
one refused instead, 503 with Retry-After), a disk floor, and a request's files released once
it is answered."""

from __future__ import annotations

import hashlib
import os
import time

import pytest

from mexa_ray.config import SpoolSpec
from mexa_ray.media.spool import Spool, SpoolFull


def spool(tmp_path, hold_s: float = 0.0, **spec) -> Spool:
    made = Spool(SpoolSpec(dir=str(tmp_path), min_free_bytes=0, **spec), hold_s)
    made.hold_s = hold_s  # no margin: the tests set the ages themselves
    return made


def age(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_one_file_per_content_named_by_its_hash(tmp_path):
    s = spool(tmp_path)
    path, sha = s.put(b"hello", "txt")
    again, _ = s.put(b"hello", "txt")
    assert path == again == tmp_path / f"{hashlib.sha256(b'hello').hexdigest()}.txt"
    assert sha == hashlib.sha256(b"hello").hexdigest() and path.read_bytes() == b"hello"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no partial file left


def test_the_cap_evicts_the_least_recently_used(tmp_path):
    s = spool(tmp_path, max_bytes=250)
    a, _ = s.put(b"a" * 100, "bin")
    b, _ = s.put(b"b" * 100, "bin")
    age(a, 30)
    age(b, 20)
    s.touch(a)  # a was used again: b is now the least recently used
    c, _ = s.put(b"c" * 100, "bin")
    assert a.exists() and c.exists() and not b.exists()
    assert s.stats.evicted == 1 and s.stats.bytes == 200 and s.stats.files == 2
    # a process starting on the node counts what is there, so its first upload keeps the cap
    later = spool(tmp_path, max_bytes=250)
    assert later.stats.bytes == 200 and later.stats.files == 2
    age(a, 10)
    later.put(b"d" * 100, "bin")
    assert not a.exists() and later.stats.bytes == 200


def test_files_of_requests_in_progress_are_kept_and_a_new_one_refused(tmp_path):
    s = spool(tmp_path, hold_s=60, max_bytes=150, retry_after_s=7)
    a, _ = s.put(b"a" * 100, "bin")
    with pytest.raises(SpoolFull) as refused:
        s.put(b"b" * 100, "bin")
    assert refused.value.status == 503 and refused.value.retry_after_s == 7
    assert a.exists() and s.stats.refused == 1
    age(a, 120)  # its request is long over: now it may go
    s.put(b"b" * 100, "bin")
    assert not a.exists()


def test_files_unused_past_the_age_limit_go_at_the_next_sweep(tmp_path):
    s = spool(tmp_path, hold_s=10, max_age_s=60)
    old, _ = s.put(b"old", "txt")
    new, _ = s.put(b"new", "txt")
    age(old, 61)
    orphan = tmp_path / "abc.part"  # a writer that died mid-write
    orphan.write_bytes(b"half")
    age(orphan, 11)
    s.sweep()
    assert not old.exists() and new.exists() and s.stats.files == 1
    assert not orphan.exists()


def test_a_request_releases_its_files_unless_another_holds_them(tmp_path):
    s = spool(tmp_path, hold_s=60)
    path, _ = s.put(b"shared upload", "txt")
    s.hold([path])  # two requests carry the same bytes
    s.hold([path])
    s.release([path])
    assert path.exists()
    s.release([path])
    assert not path.exists()
    held, _ = s.put(b"held", "txt")
    s.hold([held])  # a request that never reached its answer (its client left first)
    age(held, 3600)
    s.sweep()
    assert not held.exists()  # past its deadline and the age limit: gone all the same
    s.release([held])  # late, and harmless


def test_the_disk_floor_refuses_uploads(tmp_path):
    s = Spool(SpoolSpec(dir=str(tmp_path), min_free_bytes=2**62), 0)
    with pytest.raises(SpoolFull, match="short of disk space"):
        s.put(b"x", "txt")
