import cython

# the fields a stored row fills stay Python objects (a value of the wrong type in a changed row
# reaches the checks that report it, as in the interpreter, instead of failing to convert here)
cdef class Lot:
    cdef public object owner
    cdef public object id
    cdef public object material
    cdef public object unit
    cdef public object quantity
    cdef public object mass_kg
    cdef public object remaining_kg
    cdef public object mass_per_piece_kg
    cdef public object site
    cdef public object country
    cdef public object custody
    cdef public object recycled
    cdef public dict composition
    cdef public object produced_at
    cdef public object event_id
    cdef public object kind
    cdef public object status
    cdef public object battery
    cdef public bint held
    cdef public bint voided
    cdef public object profile
    cdef public object seq

cdef class Effect:
    cdef public list new_lots
    cdef public dict debits
    cdef public list edges
    cdef public dict parents
    cdef public dict status
    cdef public list released
    cdef public list voided
    cdef public dict credits

cpdef Effect _make_effect()

@cython.locals(lot=Lot, lot_or_none=Lot, src=Lot, eff=Effect)
cpdef Effect apply_event(ev, view)

@cython.locals(lot=Lot)
cpdef Lot _make_lot(owner, id, material, unit, quantity, mass_kg, mass_per_piece_kg, site, country,
                    custody, recycled, dict composition, produced_at, event_id, kind, status, battery)
