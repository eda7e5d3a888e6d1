"""SysV message queues: msgget, msgsnd, msgrcv, msgctl (ipc/msg.c).

A queue holds typed messages (a positive `long` type, then up to MSGMAX
bytes) in the order they were sent, up to `qbytes` bytes. msgsnd waits for
room (or fails EAGAIN with IPC_NOWAIT); msgrcv takes the first message that
matches the type asked for (0: any; > 0: that type, or any other with
MSG_EXCEPT; < 0: the lowest type up to its absolute value) and waits for one
if there is none (ENOMSG with IPC_NOWAIT). Both sleep on the queue and try
again when it changes; a queue removed while they sleep wakes them to EIDRM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nommu.abi.errno import Errno
from nommu.abi.flags import IPC_NOWAIT, MSG_EXCEPT, MSG_NOERROR
from nommu.kernel.errors import Blocked, SyscallError
from nommu.kernel.ipcids import IpcIds

if TYPE_CHECKING:
    from nommu.kernel.kernel import Kernel
    from nommu.kernel.task import Task

MSGMAX, MSGMNB, MSGMNI = 8192, 16384, 32000  # the default limits
MSGSSZ, MSGPOOL = 16, MSGMNI * MSGMNB // 1024


@dataclass(eq=False)
class MsgQueue:
    """One queue (struct msg_queue); also the channel senders and receivers wait on."""

    id: int
    key: int
    mode: int
    ctime: int
    messages: list[tuple[int, bytes]] = field(default_factory=list)  # (type, text)
    qbytes: int = MSGMNB
    stime: int = 0
    rtime: int = 0
    lspid: int = 0
    lrpid: int = 0

    @property
    def cbytes(self) -> int:
        return sum(len(text) for _, text in self.messages)

    def __str__(self) -> str:
        return f"message queue {self.id}"

    def find(self, msgtyp: int, flags: int) -> int | None:
        """Index of the message msgrcv would take, or None."""
        msgs = self.messages
        if msgtyp == 0:
            return 0 if msgs else None
        if msgtyp > 0:
            want_other = bool(flags & MSG_EXCEPT)
            return next((i for i, (t, _) in enumerate(msgs) if (t != msgtyp) == want_other), None)
        fits = [(t, i) for i, (t, _) in enumerate(msgs) if t <= -msgtyp]
        return min(fits)[1] if fits else None


@dataclass(eq=False)
class SysvMsg:
    """The machine's message queues (the IPC namespace's msg_ids)."""

    k: Kernel
    ids: IpcIds[MsgQueue] = field(default_factory=lambda: IpcIds(MSGMNI))

    def msgget(self, key: int, flags: int) -> int:
        def create() -> int:
            now = int(self.k.config.clock_realtime())
            queue = MsgQueue(self.ids.new_id(), key, flags & 0o777, now)
            self.ids.add(queue)
            return queue.id

        return self.ids.get(key, flags, create, lambda queue: None)

    def remove(self, queue: MsgQueue) -> None:
        self.ids.remove(queue)
        self.k.sched.wakeup(queue)


def msgsnd(k: Kernel, t: Task, msqid: int, mtype: int, text: bytes, flags: int) -> int:
    queue = k.sysv_msg.ids.lookup_again(msqid, t.blocked is not None)
    if queue.cbytes + len(text) > queue.qbytes or len(queue.messages) + 1 > queue.qbytes:
        if flags & IPC_NOWAIT:
            raise SyscallError(Errno.EAGAIN)
        raise Blocked(queue)
    queue.messages.append((mtype, text))
    queue.lspid, queue.stime = t.pid, int(k.config.clock_realtime())
    k.sched.wakeup(queue)
    return 0


def msgrcv(k: Kernel, t: Task, msqid: int, size: int, msgtyp: int, flags: int) -> tuple[int, bytes]:
    """The message taken (type, text cut to `size` with MSG_NOERROR)."""
    queue = k.sysv_msg.ids.lookup_again(msqid, t.blocked is not None)
    at = queue.find(msgtyp, flags)
    if at is None:
        if flags & IPC_NOWAIT:
            raise SyscallError(Errno.ENOMSG)
        raise Blocked(queue)
    mtype, text = queue.messages[at]
    if len(text) > size:
        if not flags & MSG_NOERROR:
            raise SyscallError(Errno.E2BIG)
        text = text[:size]
    del queue.messages[at]
    queue.lrpid, queue.rtime = t.pid, int(k.config.clock_realtime())
    k.sched.wakeup(queue)  # (senders waiting for room)
    return mtype, text
