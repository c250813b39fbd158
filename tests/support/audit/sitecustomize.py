"""Test support: when FRAUDSTREAM_AUDIT_LOG is set, record every file this Python process opens
and every module it imports (CPython audit hooks) to ``<FRAUDSTREAM_AUDIT_LOG>.<pid>``.

The privacy test puts this folder on the scorer's PYTHONPATH: the scorer and its spawned FHE
processes then report what they opened, and the test checks that no secret-key file is among
them and that the key module was never imported.
"""

import os
import sys

_target = os.environ.get("FRAUDSTREAM_AUDIT_LOG")
if _target:
    _fd = os.open(f"{_target}.{os.getpid()}", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    _busy = [False]

    def _hook(event: str, args: tuple) -> None:
        if _busy[0] or event not in ("open", "import"):
            return
        _busy[0] = True
        try:
            subject = args[0]
            if isinstance(subject, str | bytes | os.PathLike):
                os.write(_fd, f"{event}\t{os.fsdecode(subject)}\n".encode())
        except Exception:  # noqa: BLE001, S110  (an audit hook must never break the process)
            pass
        finally:
            _busy[0] = False

    sys.addaudithook(_hook)
