# Read only when the module is compiled with Cython (setup.py): the shared structures as C
# types, so compiled code reads their fields directly.  The .py stays the one definition; a
# field added there must be added here too, or the compiled build fails on it at run time
# (tests/test_compiled.py runs it on every fixture).
cdef class Shape:
    cdef public object parts, text, slots, _template, _functions
    cdef public dict stacks, cache

cdef class Stack:
    cdef public object shape, args, _frames, _cache, block

cdef class Block:
    cdef public object stack, created_by, created_file, created_lineno, elided, lines, source
