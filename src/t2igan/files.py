"""Where t2igan keeps what it derives, and the one way it writes a file or a folder: atomically.

Everything t2igan writes (checkpoints, config.json, sample grids, caches, eval reports, encoders)
goes through `atomic_path`: it is written under a hidden temporary name beside its destination,
flushed to disk, and renamed into place only when complete, so a reader never sees half of it and
a crash, a kill or a full disk leaves at most a `.NAME.PID.tmp` behind, never a damaged file under
the real name. (RUN/log.jsonl is the one file appended to instead; t2igan.training.logbook repairs
a line a kill cut short.)

A command claims each output before its work starts (`claimed`): it fails at once, in one line,
when the output cannot be written (a read-only or full file system, a file where a folder must
be, a device); a lock file beside the output names the one process writing it, and temporaries a
killed writer left are removed.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from t2igan.errors import UserError

FREE_BYTES_MIN = 1 << 20  # below this, a failed write is taken as a full disk


def cache_dir() -> Path:
    """Where derived data is cached (embeddings, evaluators, reference statistics): $T2IGAN_CACHE,
    else ~/.cache/t2igan."""
    return Path(os.environ.get("T2IGAN_CACHE", Path.home() / ".cache" / "t2igan"))


def _beside(destination: Path, pattern: str) -> Path:
    """A hidden name beside `destination` (made absolute first: "." and "run/.." have a name
    there, and a new file beside them lands in their parent)."""
    absolute = Path(os.path.abspath(destination))
    if not absolute.name:
        raise UserError(f"{destination} is the root folder; choose a folder inside it")
    return absolute.with_name(pattern.format(absolute.name))


def temporary_for(destination: Path, pid: int | None = None) -> Path:
    return _beside(destination, f".{{}}.{pid or os.getpid()}.tmp")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def refuse_special(destination: Path) -> None:
    """A device, a pipe or a socket is never replaced by a file (`--out /dev/sda` must not turn a
    disk into a PNG)."""
    with suppress(OSError):
        mode = destination.lstat().st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
            raise UserError(f"{destination} is a device, pipe or socket, not a file t2igan may "
                            "replace; choose another path")


def _sync(path: Path) -> None:
    """Flush a file, or every file of a folder, to disk: the rename that follows must not publish
    data that is still only in memory when the machine goes down."""
    for file in ([path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]):
        descriptor = os.open(file, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _as_write_failure(error: BaseException, destination: Path, temporary: Path) -> BaseException:
    """The error to report: OSErrors name the destination, not the temporary; a library's own
    error type for a write that failed on a full disk (torch.save raises RuntimeError) becomes the
    OSError it is."""
    if isinstance(error, OSError):
        named = str(error.filename or destination).replace(temporary.name, destination.name)
        return OSError(error.errno, error.strerror or str(error), named)
    if isinstance(error, Exception) and not isinstance(error, UserError):
        with suppress(OSError):
            if shutil.disk_usage(destination.parent).free < FREE_BYTES_MIN:
                return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(destination))
    return error


@contextmanager
def atomic_path(destination: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `destination` for the block to write a file or a folder at; flushed
    and renamed onto `destination` when the block ends normally, removed when it raises."""
    destination = Path(destination)
    refuse_special(destination)
    temporary = temporary_for(destination)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        _remove(temporary)
        yield temporary
        _sync(temporary)
        # os.replace cannot replace a folder that has files
        if temporary.is_dir() and destination.is_dir():
            shutil.rmtree(destination)
        os.replace(temporary, destination)
        _sync_folder(destination.parent)
    except BaseException as error:
        _remove(temporary)
        reported = _as_write_failure(error, destination, temporary)
        if reported is error:
            raise
        raise reported from error


def _sync_folder(folder: Path) -> None:
    """Make a rename durable (a folder's entries are flushed by fsync of the folder itself)."""
    with suppress(OSError):  # some file systems cannot open a folder for fsync
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@contextmanager
def cache_entry(destination: str | os.PathLike) -> Iterator[Path]:
    """`atomic_path` for a cache file: one that cannot be written (a full disk, a read-only home)
    is a warning, not a failure, since the work never depends on its cache being kept."""
    destination = Path(destination)
    try:
        remove_stale_temporaries(destination)
        with atomic_path(destination) as temporary:
            yield temporary
    except OSError as error:
        print(f"t2igan: warning: the cache file {destination} was not saved "
              f"({error.strerror or error}); it will be computed again next time",
              file=sys.stderr)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, value: Any) -> Path:
    return write_text(path, json.dumps(value, indent=2) + "\n")


# -- claiming an output before the work ----------------------------------------------------------

MADE_BY = ".t2igan-made-by"  # in a folder a command writes whole: which command (it may replace it)


def mark_made_by(folder: Path, command: str) -> None:
    (Path(folder) / MADE_BY).write_text(command + "\n", encoding="utf-8")


def check_replaceable(folder: Path, command: str, layout: frozenset[str] = frozenset()) -> None:
    """A folder that `command` writes whole, and so replaces, may already exist only when it is
    empty or `command` made it: a mistyped --out (a run, a dataset, a user's documents) is never
    deleted. `layout`: the names a folder of this command's held before the marker existed (a
    folder holding only those is taken as the command's own)."""
    folder = Path(folder)
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    if layout and {p.name for p in folder.iterdir() if not p.name.startswith(".")} <= layout:
        return
    marker = folder / MADE_BY
    made_by = marker.read_text(encoding="utf-8", errors="replace").strip() \
        if marker.is_file() else None
    if made_by != command:
        raise UserError(f"{folder} holds files that `t2igan {command}` did not write; choose a new "
                        "or empty folder (nothing was changed)")


def lock_path(destination: Path) -> Path:
    return _beside(destination, ".{}.lock")


@contextmanager
def owned(folder: str | os.PathLike, command: str,
          layout: frozenset[str] = frozenset()) -> Iterator[None]:
    """For a command that writes into a folder file by file: a folder holding anything else (a
    user's dataset, their photos) is refused before the first file; the folder is marked as this
    command's first, so that the command may write it again, interrupted or not."""
    check_replaceable(Path(folder), command, layout)
    Path(folder).mkdir(parents=True, exist_ok=True)
    mark_made_by(Path(folder), command)
    yield


@contextmanager
def claimed(destination: str | os.PathLike, kind: str = "file",
            suffixes: tuple[str, ...] = ()) -> Iterator[Path]:
    """Hold `destination` (kind "file", with one of `suffixes` when given, or "folder") while a
    command makes it.

    Fails at once, in one line, if it cannot be written, is the wrong kind or is held by another
    live process (the message names its pid). The lock is the file `.NAME.lock` beside the output,
    locked with flock: the kernel releases it when its holder dies, however it dies, so a stale
    lock is simply taken over. Temporaries of killed writers (`.NAME.PID.tmp` of a process that is
    gone) are removed, beside the output and inside a folder output."""
    destination = Path(destination)
    _check_kind(destination, kind)
    if suffixes and destination.suffix.lower() not in suffixes:
        raise UserError(f"{destination}: the file name must end in {' or '.join(suffixes)}")
    descriptor = _lock(destination)
    try:
        if destination.is_dir():
            _probe(destination)  # a read-only folder inside a writable one
        remove_stale_temporaries(destination)
        yield destination
    finally:
        with suppress(OSError):
            os.unlink(lock_path(destination))
        os.close(descriptor)


def _check_kind(destination: Path, kind: str) -> None:
    refuse_special(destination)
    if kind == "file" and destination.is_dir():
        raise UserError(f"{destination} is a folder; give a file name (e.g. {destination}/out.png)")
    if kind == "folder" and destination.exists() and not destination.is_dir():
        raise UserError(f"{destination} is a file, not a folder; choose another path")
    for parent in destination.parents:
        if parent.exists() and not parent.is_dir():
            raise UserError(f"cannot write {destination}: {parent} is a file, not a folder")
        if parent.exists():
            break


def _lock(destination: Path) -> int:
    """A descriptor holding the flock of the output's lock file, with this process's pid in it."""
    path = lock_path(destination)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            if _try_flock(descriptor, destination):
                # the holder unlinks the file as it releases it: locked a removed file? open anew
                with suppress(FileNotFoundError):
                    if os.stat(path).st_ino == os.fstat(descriptor).st_ino:
                        break
            os.close(descriptor)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        return descriptor
    except OSError as error:
        if error.filename == str(path):  # the folder refused the lock file: name the folder
            error.filename = str(path.parent)
        raise UserError(f"cannot write {destination}: {_reason(error)}") from None


def _try_flock(descriptor: int, destination: Path) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(descriptor)
        raise UserError(f"{destination} is being written by process {holder}; wait for it to end "
                        f"or stop it (kill {holder})") from None
    except OSError:  # a file system without flock (some network mounts): unlocked, not refused
        return True


def _probe(folder: Path) -> None:
    probe = temporary_for(folder / "probe")
    try:
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise UserError(f"cannot write in {folder}: {_reason(error)}") from None


def _reason(error: OSError) -> str:
    where = f"{error.filename}: " if error.filename else ""
    return f"{where}{error.strerror or error}".rstrip()


TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp$")


def remove_stale_temporaries(destination: Path) -> list[Path]:
    """Remove the `.NAME.PID.tmp` files and folders of processes that no longer run: beside
    `destination` (its own), and anywhere inside it when it is a folder. Returns what it removed."""
    absolute = Path(os.path.abspath(destination))
    candidates = list(absolute.parent.glob(f".{glob_escape(absolute.name)}.*.tmp"))
    if destination.is_dir():
        candidates += destination.rglob(".*.tmp")
    removed = []
    for path in candidates:
        match = TEMPORARY.match(path.name)
        if match and not _alive(int(match.group(1))):
            _remove(path)
            removed.append(path)
    return removed


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process, or not a pid at all
        return pid < 1 << 22
    return True
