# Read only when the module is compiled with Cython (setup.py): the grouping loop reads the shared
# Block and Stack (C types of forensics.parse.stacks) field by field in C.  The .py stays the one
# definition; a signature changed there must be changed here too.
cimport cython

from forensics.parse.stacks cimport Block, Shape, Stack


@cython.locals(block=Block, stack=Stack, found=dict, order=list, merged=dict, places=dict, seen=dict,
               group=list)
cpdef list buckets(dump, bint ignore_args=*, grouped=*, waiting=*)
