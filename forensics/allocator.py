"""How the process allocates memory on large inputs: one place for the allocator settings.

* :func:`arrow_system_pool`: pandas keeps string columns in pyarrow buffers, and pyarrow's default
  pool (mimalloc) keeps what it frees: building the goroutines table of a 10^5-goroutine dump left
  ~65 MB more resident (peak RSS of ``analyze`` on a 100 MB dump 385 -> 318 MB with the system
  allocator, same time).  Set when :mod:`forensics.evidence` is imported; a pool chosen with
  ARROW_DEFAULT_MEMORY_POOL is kept.
* :func:`glibc_heap`: a large log is read a megabyte block at a time, and each block makes a few
  megabyte-sized temporaries (the block, its newline index, its blanked copy).  With glibc's
  defaults the heap is trimmed as soon as 128 KiB to 2 MiB lie free at its top, so every block
  faults its pages in afresh: ~170,000 minor faults and 0.3 s of system time a GiB.  Keeping up to
  :data:`TRIM` bytes of freed heap and serving allocations under :data:`MMAP` bytes from it takes
  that away (1 GiB routine journal: 198k -> 32k faults, CPU -12%; peak RSS unchanged, also for
  ``dump`` of a 200 MB dump, 280 MB).  Called by
  the command line (a process-wide choice, not made for a library user), and exported as
  glibc's environment variables so that worker processes start with it; settings the user made
  through those variables are kept.
"""

from __future__ import annotations

import ctypes
import os

TRIM = 64 << 20  # bytes of freed heap kept before giving memory back to the system
MMAP = 4 << 20  # allocations from this size on are mapped apart (and unmapped when freed): with
# 32 MiB, the dump of a 200 MB perturbed dump peaked at 294 MB instead of 280 MB (fragments)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_ENV = {"MALLOC_TRIM_THRESHOLD_": TRIM, "MALLOC_MMAP_THRESHOLD_": MMAP}


def arrow_system_pool() -> None:
    """pyarrow's buffers from the system allocator, unless ARROW_DEFAULT_MEMORY_POOL chooses."""
    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ:
        return
    try:
        import pyarrow
    except ImportError:  # pandas keeps strings as Python objects then
        return
    pyarrow.set_memory_pool(pyarrow.system_memory_pool())


def glibc_heap() -> bool:
    """glibc's heap kept for reuse in this process and its children (see above); False where the
    C library is not glibc or the user set either variable."""
    if any(name in os.environ for name in _ENV):
        return False
    try:  # the C library the interpreter is linked with (no ldconfig run to find it)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no mallopt: not glibc
        return False
    if not (mallopt(_M_TRIM_THRESHOLD, TRIM) and mallopt(_M_MMAP_THRESHOLD, MMAP)):
        return False
    os.environ.update({name: str(value) for name, value in _ENV.items()})
    return True
