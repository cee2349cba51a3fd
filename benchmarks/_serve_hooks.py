"""``lumos serve`` with two hooks the fault suite needs and the command line does not offer.

Run as ``python _serve_hooks.py SEGMENT_BYTES CLOCK_FILE serve ARGS...``, in place of
``python -m lumos.cli serve ARGS...``; ``0`` and ``""`` leave a hook off.

* ``SEGMENT_BYTES``: the disk event log starts a new segment past this many bytes instead
  of 64 MiB (the default of ``EventLog(segment_bytes=...)``, which ``lumos serve`` does not
  expose), so a fault that stops a new segment from being created meets one within seconds.
* ``CLOCK_FILE``: ``time.time()`` runs behind the real clock by the seconds written in this
  file (read every 20 ms; absent or empty is 0). A wall clock that jumps backwards — an NTP
  step, a restored snapshot — cannot be caused otherwise without changing the machine's
  clock; the monotonic clock goes on as it does in such a jump.

Both hooks act on this process only, before Lumos is imported; the server is the same
process (signals reach it directly).
"""

from __future__ import annotations

import sys
import threading
import time


def behind(clock_file: str):
    """A ``time.time`` that runs behind the real one by the seconds in ``clock_file``."""
    real, offset = time.time, [0.0]

    def watch():
        while True:
            try:
                with open(clock_file) as f:
                    offset[0] = float(f.read().strip() or 0)
            except (OSError, ValueError):
                offset[0] = 0.0
            time.sleep(0.02)

    threading.Thread(target=watch, daemon=True, name="clock-file").start()
    return lambda: real() - offset[0]


if __name__ == "__main__":
    segment_bytes, clock_file, *args = sys.argv[1:]
    if clock_file:
        time.time = behind(clock_file)
    if int(segment_bytes):
        from lumos.events import _log

        _log.EventLog.__init__.__kwdefaults__["segment_bytes"] = int(segment_bytes)
    from lumos.cli import main

    main(args=args, prog_name="lumos")
