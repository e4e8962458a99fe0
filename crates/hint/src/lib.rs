//! CPU hints whose intrinsics need `unsafe` to call, behind safe functions,
//! so that `tw-detect` keeps `#![forbid(unsafe_code)]`.
#![no_std]

/// Asks the CPU to bring the cache line holding `r` into all cache levels,
/// without waiting for it.
#[inline(always)]
pub fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint. It never faults, whatever the address
    // (here a live reference), and changes no architectural state; SSE, which
    // it belongs to, is part of every x86_64 CPU.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            (r as *const T).cast::<i8>(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

/// [`prefetch`] for every cache line of `*r`.
#[inline(always)]
pub fn prefetch_all<T>(r: &T) {
    let p = (r as *const T).cast::<u8>();
    let mut off = 0;
    while off < core::mem::size_of::<T>() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `prefetch`; the address stays inside `*r`.
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                p.wrapping_add(off).cast::<i8>(),
            );
        }
        off += 64;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
