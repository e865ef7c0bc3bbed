# Read only when the module is compiled with Cython (setup.py): C types for the heap word scan's
# locals, so that it reads the text character by character in C.  The .py stays the one
# definition; a signature changed there must be changed here too.
cimport cython


@cython.locals(n=Py_ssize_t, at=Py_ssize_t, end=Py_ssize_t, i=Py_ssize_t, c=Py_UCS4, last=Py_ssize_t,
               value=cython.ulonglong, mask=cython.ulonglong, found=list, blocked=bint)
cpdef list _scan(str text, object wanted, bytearray marks)

@cython.locals(i=Py_ssize_t, c=Py_UCS4)
cpdef bint _heap_word(str text, Py_ssize_t at, Py_ssize_t end)
