# Read only when the module is compiled with Cython (setup.py): C types for the per-goroutine
# functions' arguments and locals.  The .py stays the one definition; a signature changed there
# must be changed here too: Cython refuses to compile a mismatch, and the install is then pure
# Python (CI fails on that: FORENSICS_REQUIRE_COMPILED in .ci/run).
cimport cython

from forensics.parse.stacks cimport Block, Shape, Stack


cdef class _Known:
    cdef public object source
    cdef public dict heads, shapes, recent, creators, names, ids, lines, blocks, sized
    cdef public Py_ssize_t hits, skip

@cython.locals(eol=Py_ssize_t, cut=Py_ssize_t)
cpdef object _verify(str block, _Known seen)

cpdef object _body(str body, _Known seen)

@cython.locals(eol=Py_ssize_t, at=Py_ssize_t, gid=str)
cpdef tuple _pair_key(str pair, dict ids)

cpdef object _known_creator(str pair, _Known seen)

@cython.locals(shape=Shape, stack=Stack)
cpdef object _stack(str frames, _Known seen, bint verified)

@cython.locals(pieces=list, args=str)
cpdef tuple _cut(str frames)

@cython.locals(heads=list, lists=list, start=Py_ssize_t, end=Py_ssize_t, at=Py_ssize_t, args=str)
cpdef tuple _cut_in_place(str frames)

cpdef tuple _split(str frames)

@cython.locals(text=str, shape=Shape)
cpdef Shape _shape(str key, _Known seen)

cpdef object _remember(str frames, Stack stack, _Known seen)

@cython.locals(block=Block, shape=Shape)
cpdef Block _block(Stack stack, tuple creator, str pair, _Known seen)
