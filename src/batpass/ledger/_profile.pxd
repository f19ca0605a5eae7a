import cython

from batpass.ledger.model cimport Lot

cpdef bint is_profile_source(Lot lot)

cpdef dict source_profile(Lot lot)

@cython.locals(p_lot=Lot, plot=Lot, kg=cython.double, pf=cython.double, w=cython.double, wa=cython.double,
               W=cython.double, Wa=cython.double, hx=cython.double, cx=cython.double, ox=cython.double,
               pre=cython.double, post=cython.double, u=cython.double, apre=cython.double,
               apost=cython.double, inv=cython.double, pre_s=cython.double, post_s=cython.double,
               a=cython.double, apre_s=cython.double, apost_s=cython.double)
cpdef dict mix_profile(Lot lot, parents, parent_profiles)

@cython.locals(pf=cython.double, w=cython.double, wa=cython.double, W=cython.double, Wa=cython.double,
               inv=cython.double, pre_s=cython.double, post_s=cython.double, a=cython.double,
               apre_s=cython.double, apost_s=cython.double)
cpdef dict _mix_one(Lot lot, Lot plot, double kg, dict prof)
