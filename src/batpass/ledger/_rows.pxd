from batpass.ledger.model cimport Lot

cpdef profile_of(Lot lot)

cpdef tuple lot_values(Lot lot, produced_at, profile_no, held, voided, lot_no, null=*)
