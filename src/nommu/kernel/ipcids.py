"""SysV IPC identifiers (ipc/util.c), shared by shared memory and semaphores.

An id is an index into the set's table plus a sequence number shifted left by
IPCMNI_SHIFT: the index is handed out cyclically (idr_alloc_cyclic), and the
sequence moves on whenever the index wraps around, so that an id that was
removed is not soon valid again for a new object. The first object of a
fresh machine gets id 0, as on Linux.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from nommu.abi.errno import Errno
from nommu.abi.flags import IPC_CREAT, IPC_EXCL, IPC_PRIVATE
from nommu.kernel.errors import SyscallError

IPCMNI_SHIFT = 15
IPC_MIN_CYCLE = 64  # RADIX_TREE_MAP_SIZE
SEQ_MAX = 0x7FFFFFFF >> IPCMNI_SHIFT
INDEX_MASK = (1 << IPCMNI_SHIFT) - 1


class IpcObject(Protocol):
    id: int
    key: int


T = TypeVar("T", bound=IpcObject)


@dataclass(eq=False)
class IpcIds(Generic[T]):
    """One kind of object's table (the IPC namespace's shm_ids or sem_ids)."""

    limit: int  # SHMMNI, SEMMNI: how many may exist at once
    objects: dict[int, T] = field(default_factory=dict)  # index -> object
    seq: int = 0
    last_idx: int = -1
    next_idx: int = 0  # idr_alloc_cyclic's cursor

    def lookup(self, ipc_id: int) -> T:
        """The object `ipc_id` names (EINVAL if none: removed, or never was)."""
        obj = self.find(ipc_id)
        if ipc_id < 0 or obj is None:
            raise SyscallError(Errno.EINVAL)
        return obj

    def lookup_again(self, ipc_id: int, restarted: bool) -> T:
        """`lookup` for a call that may be running again after a sleep
        (`restarted`): then a missing object was removed while the caller
        slept, which is EIDRM, not EINVAL."""
        try:
            return self.lookup(ipc_id)
        except SyscallError:
            if restarted:
                raise SyscallError(Errno.EIDRM) from None
            raise

    def at_index(self, index: int) -> T:
        """The object at table index `index` (the *_STAT commands), or EINVAL."""
        found = self.objects.get(index)
        if index < 0 or found is None:
            raise SyscallError(Errno.EINVAL)
        return found

    def find(self, ipc_id: int) -> T | None:
        obj = self.objects.get(ipc_id & INDEX_MASK)
        return obj if obj is not None and obj.id == ipc_id else None

    def find_key(self, key: int) -> T | None:
        return next((o for o in self.objects.values() if o.key == key), None)

    def new_id(self) -> int:
        """ipc_idr_alloc: the next free index from the cyclic cursor."""
        if len(self.objects) >= self.limit:
            raise SyscallError(Errno.ENOSPC)
        limit = max(len(self.objects) * 3 // 2, IPC_MIN_CYCLE)
        order = [*range(self.next_idx, limit), *range(min(self.next_idx, limit))]
        idx: int = next(i for i in order if i not in self.objects)
        if idx <= self.last_idx:
            self.seq = 0 if self.seq + 1 >= SEQ_MAX else self.seq + 1
        self.last_idx, self.next_idx = idx, idx + 1
        return (self.seq << IPCMNI_SHIFT) + idx

    def add(self, obj: T) -> None:
        self.objects[obj.id & INDEX_MASK] = obj

    def remove(self, obj: T) -> None:
        del self.objects[obj.id & INDEX_MASK]

    def get(
        self, key: int, flags: int, create: Callable[[], int], check: Callable[[T], None]
    ) -> int:
        """The rules of shmget/semget: IPC_PRIVATE always makes a new object
        (`create`, which returns its id); a key finds its object (`check`
        may refuse it: EINVAL when it is too small), or, with IPC_CREAT, makes
        one; EEXIST with IPC_CREAT|IPC_EXCL when it exists, ENOENT without
        IPC_CREAT when it does not."""
        if key == IPC_PRIVATE:
            return create()
        obj = self.find_key(key)
        if obj is None:
            if not flags & IPC_CREAT:
                raise SyscallError(Errno.ENOENT)
            return create()
        if flags & IPC_CREAT and flags & IPC_EXCL:
            raise SyscallError(Errno.EEXIST)
        check(obj)
        return obj.id
