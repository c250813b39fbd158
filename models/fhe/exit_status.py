"""Keep a failing process's exit status once Concrete's runtime has run in it.

concrete-python registers an ``atexit`` handler (``concrete.compiler``'s
``_terminate_df_parallelization``) that, once a circuit has been evaluated in the process, ends
it with C ``exit(0)`` from inside the runtime's ``_dfr_terminate``: the status that
``sys.exit(1)`` or an uncaught exception asked for is lost. Found when ``fraudstream bench
pipeline`` printed an error after its first bare loop and exited 0 (concrete-python of
concrete-ml 1.9.0; the backtrace shows ``exit`` called from ``_dfr_terminate``).

:func:`keep_failing_status` drops that handler for a process that is about to fail, so Python's
own status reaches the C ``exit``. A process that ends with 0 keeps Concrete's termination. No
library offers this; it is a few lines against one handler.
"""

from __future__ import annotations

import atexit
import sys

__all__ = ["keep_failing_status"]


def keep_failing_status() -> None:
    """Let a failing exit keep its status: drop Concrete's exit handler if it was loaded. The
    handler ends the dataflow runtime it started (after an evaluation it is running, hence the
    ``exit(0)``); a failing process skips that and exits through Python's own path."""
    compiler = sys.modules.get("concrete.compiler")
    if compiler is None:
        return  # never imported: its handler is not registered
    handler = getattr(compiler, "_terminate_df_parallelization", None)
    if handler is not None:
        atexit.unregister(handler)
