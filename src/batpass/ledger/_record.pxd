import cython

from batpass.ledger.model cimport Effect, Lot


cdef class _View:
    cdef public object conn
    cdef public object owner
    cdef public dict lots
    cdef public set missing
    cdef public dict flows
    cdef public dict pref
    cdef public dict nos


cdef class OwnerRecording:
    cdef public object conn
    cdef public object owner
    cdef public object identity
    cdef public Py_ssize_t batch_size
    cdef public object now
    cdef public object _received
    cdef public object _authorisations
    cdef public object policy
    cdef public object _bind_at
    cdef public object _bind_body
    cdef public object _now_db
    cdef public object _blob
    cdef public _View view
    cdef public object summaries
    cdef public list auths
    cdef public list new_lots
    cdef public set new_ids
    cdef public set touched
    cdef public list event_rows
    cdef public list edge_rows
    cdef public list credit_rows
    cdef public list alert_rows
    cdef public list hashes
    cdef public object owner_no
    cdef public dict catalogue_nos
    cdef public dict mixes
    cdef public object seq
    cdef public object prev_hash
    cdef public object first_batch
    cdef public dict owner_nums
    cdef public dict parent_nos

    @cython.locals(lot=Lot, eff=Effect)
    cpdef _apply(self, n, i, ev, body)

    @cython.locals(p=Lot)
    cpdef _new_lot(self, ev, Lot lot, list parents, at_db)
