"""CRC-32, the value zlib gives, worked out by libdeflate where it is installed: five
times zlib's speed. A restart at 100,000 entries checks the entry cache's 318 MB."""

from __future__ import annotations

import zlib

try:
    import deflate as _libdeflate
except ImportError:  # pragma: no cover - deflate ships wheels for the usual platforms
    _libdeflate = None  # type: ignore[assignment]


def crc32(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    """``zlib.crc32(data, value)``."""
    if _libdeflate is not None:
        return int(_libdeflate.crc32(data, value))
    return zlib.crc32(data, value)
