"""Put a run's files into ``--out`` all at once: a complete new set or nothing.

Every file is written (and fsynced) into a temporary folder beside ``--out``, which is then
renamed into place. A previous run's folder is moved aside first and removed afterwards, so
``--out`` never holds two runs' files (no stale statement of a village that has left), and a
failure midway leaves the previous result untouched. A folder that is not a previous
allocation output (it has files but no ``allocation.json``) is never replaced.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from allocator.errors import OutputError

MARKER = "allocation.json"  # every run writes it: what makes a folder a previous output


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _replaceable(out: Path) -> bool:
    if not out.exists():
        return True
    if not out.is_dir():
        return False
    return (out / MARKER).is_file() or not any(out.iterdir())


def _write_all(folder: Path, files: Mapping[str, bytes]) -> None:
    for rel, data in files.items():
        path = folder / rel
        if path.resolve().parent != folder.resolve() and \
                folder.resolve() not in path.resolve().parents:
            raise OutputError(f"output name {rel!r} leaves the output folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def publish(out: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write ``files`` (relative path -> bytes) as the whole content of ``out``."""
    if MARKER not in files:
        raise OutputError(f"internal: a run's files must include {MARKER}")
    if not _replaceable(out):
        raise OutputError(f"--out {out}: refusing to replace it: it is not a folder of a "
                          f"previous allocation run (no {MARKER}) and not empty")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700 would hide the results from others
    except OSError as e:
        raise OutputError(f"cannot write to {out.parent}: {e.strerror}") from e
    old: Path | None = None
    try:
        _write_all(tmp, files)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rename(out, old / "previous")
        os.rename(tmp, out)
    except OSError as e:
        if old is not None and (old / "previous").exists() and not out.exists():
            os.rename(old / "previous", out)  # put the previous result back
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"cannot write to {out}: {e.strerror or e}") from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return sorted(out / rel for rel in files)
