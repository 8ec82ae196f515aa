"""Files the portal writes outside the database: keys, certificates, archive manifests."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to `path` with file mode `mode`, atomically: a reader sees the old file or the
    new one, never half of one (POSIX rename). The temporary file beside it is created 0600 with
    O_EXCL and O_NOFOLLOW (never readable by others whatever the umask, never a planted link),
    chmod-ed to `mode`, fsync-ed, then renamed over `path`; on any failure it is removed. The
    folder must exist. Raises OSError."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
