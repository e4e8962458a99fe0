//! CPU hints whose intrinsics need `unsafe` to call, behind safe functions,
//! so that `tw-detect` keeps `#![forbid(unsafe_code)]`.
#![no_std]

/// Asks the CPU to bring every cache line of `*r` into all cache levels,
/// without waiting for them.
#[inline(always)]
pub fn prefetch<T>(r: &T) {
    let p = (r as *const T).cast::<u8>();
    let mut off = 0;
    while off < core::mem::size_of::<T>().max(1) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: PREFETCHT0 is a hint. It never faults, whatever the
        // address (here inside a live reference), and changes no
        // architectural state; SSE, which it belongs to, is part of every
        // x86_64 CPU.
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
