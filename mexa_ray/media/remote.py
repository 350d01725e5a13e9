"""Media named by http(s) URL, fetched only from an operator's allow-list of hosts.

A service that fetches any URL a client names can be made to read its own network (cloud
metadata, internal dashboards), so fetching is off until the config names hosts, redirects are
not followed (they could lead off the list), and the body is read only up to the size limit.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx

from mexa_ray.errors import MediaAccessDenied, MediaError, PayloadTooLarge


def allowed(url: str, hosts: list[str]) -> bool:
    """Whether the URL's host (or host:port) is on the list; names compare case-insensitively."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.lower()
    entries = {h.lower() for h in hosts}
    return host in entries or (parts.port is not None and f"{host}:{parts.port}" in entries)


def fetch(url: str, hosts: list[str], max_bytes: int, timeout_s: float, field: str) -> bytes:
    """The URL's body; MediaAccessDenied off the list, PayloadTooLarge over `max_bytes`,
    MediaError when it cannot be fetched or takes over `timeout_s` in all. Each names `field`."""
    give_up_at = time.monotonic() + timeout_s
    if not allowed(url, hosts):
        where = urlsplit(url).netloc or url[:100]
        raise MediaAccessDenied(
            f"{where!r} is not an allowed host for media URLs"
            + ("" if hosts else " (this service fetches no URLs; send the bytes instead)"),
            field=field,
        )
    try:
        with httpx.stream("GET", url, timeout=timeout_s, follow_redirects=False) as response:
            if response.status_code != 200:
                raise MediaError(
                    f"fetching the URL gave HTTP {response.status_code}"
                    + (" (redirects are not followed)" if response.is_redirect else ""),
                    field=field,
                )
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise PayloadTooLarge(
                    f"the URL's body has {length} bytes; the limit is {max_bytes}", field=field
                )
            body = bytearray()
            for part in response.iter_bytes():
                body += part
                if len(body) > max_bytes:
                    raise PayloadTooLarge(f"the URL's body is over {max_bytes} bytes", field=field)
                if time.monotonic() > give_up_at:  # a server trickling bytes
                    raise MediaError(f"fetching the URL took over {timeout_s:g} s", field=field)
    except httpx.HTTPError as exc:
        raise MediaError(
            f"cannot fetch the URL: {type(exc).__name__}: {exc}", field=field
        ) from None
    return bytes(body)
