"""SIGTERM to a command that owns processes: unwind it, so that its ``finally`` blocks stop them.

Python runs a signal handler in the main thread between two instructions, wherever that thread
is. One place is unsafe to raise in: kafka-python 3 drives its network loop in the caller's
thread when the client has no I/O thread of its own (a producer's bootstrap, while it is being
built), and that loop catches every exception a task raises, ``SystemExit`` included. A
SIGTERM sent from inside it is swallowed: the bootstrap then waits for an answer that never
comes, and the command does not stop (most likely what CI saw once: the demo still running
120 s after its SIGTERM). So while
the main thread is inside that loop, the exit is put off and the signal sent again a moment
later, until the thread is out of it (bootstraps take milliseconds) or
:data:`DEFER_AT_MOST_S` have passed.

A library cannot do this for us: the standard library has no way to hold a signal until a
thread leaves some code, and kafka-python documents no shutdown hook for its caller's loop.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["DEFER_AT_MOST_S", "sigterm_unwinds"]

#: How often a put-off SIGTERM is sent again.
RETRY_EVERY_S = 0.05
#: A SIGTERM is put off for at most this long, then raised wherever the main thread is.
DEFER_AT_MOST_S = 30.0
#: kafka-python's network loop: (module, function) of the frames that swallow an exception.
_SWALLOWING_FRAMES = frozenset(
    {("kafka.net.selector", "poll"), ("kafka.net.selector", "_poll_once")}
)


def _in_swallowing_code(frame: FrameType | None) -> bool:
    """Whether ``frame`` or a caller of it is kafka-python's network loop."""
    while frame is not None:
        if (frame.f_globals.get("__name__"), frame.f_code.co_name) in _SWALLOWING_FRAMES:
            return True
        frame = frame.f_back
    return False


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """While inside, SIGTERM raises SystemExit (exit status 143) instead of ending the process
    at once, so that every ``finally`` runs: a command's broker and workers are stopped, and
    those the bench has paused are continued first. Inside kafka-python's network loop the exit
    waits until the thread leaves it (module docstring). Whatever the command then does, its
    exit status is 143: code that catches the SystemExit and fails otherwise, or even carries
    on to its end, does not hide the signal. The previous handler comes back after."""

    received: list[int] = []
    deadline = [0.0]
    retry: list[threading.Timer] = []  # the one pending re-send, if any

    def _exit(signum: int, frame: FrameType | None) -> None:
        if not received:
            received.append(signum)
            deadline[0] = time.monotonic() + DEFER_AT_MOST_S
        if _in_swallowing_code(frame) and time.monotonic() < deadline[0]:
            for timer in retry:
                timer.cancel()
            retry[:] = [_send_again(signum)]
            return
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    except BaseException:
        # The SystemExit may be caught by the code it lands in and turned into another error.
        if received:
            raise SystemExit(128 + received[0]) from None
        raise
    else:
        if received:  # ...or caught and the command carried on to its end
            raise SystemExit(128 + received[0])
    finally:
        for timer in retry:
            timer.cancel()
        signal.signal(signal.SIGTERM, previous)


def _send_again(signum: int) -> threading.Timer:
    """Send ``signum`` to the main thread again in :data:`RETRY_EVERY_S`; the timer, started."""
    main_thread = threading.main_thread().ident
    assert main_thread is not None  # noqa: S101  (a running interpreter has a main thread)
    timer = threading.Timer(RETRY_EVERY_S, signal.pthread_kill, (main_thread, signum))
    timer.daemon = True
    timer.start()
    return timer
