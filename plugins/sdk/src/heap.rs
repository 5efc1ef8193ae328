//! The plugin's memory allocator: free lists of small blocks by size class,
//! carved from 64 KiB chunks, over the system allocator for everything else.
//!
//! Plugins allocate small values per row (a masked string, a key), and
//! wasi-libc's dlmalloc spends several times what a native allocator does on
//! each (a third of `mask_pii`'s time went there). A component has one thread
//! and is thrown away rather than shrunk, so a class's blocks are simply kept
//! for reuse: allocating and freeing are a few instructions each.
//!
//! The logic is plain Rust over any [`GlobalAlloc`], so floe's test suite
//! also runs it natively.

use std::alloc::{GlobalAlloc, Layout};
use std::ptr;

/// Sizes up to this come from the free lists.
pub const SMALL: usize = 2048;
/// Every block is aligned to this (larger alignments go to the system).
const ALIGN: usize = 16;
const CHUNK: usize = 64 * 1024;
/// 16-byte steps up to 256 bytes, then 512, 1024 and 2048.
const CLASSES: usize = 16 + 3;

/// Sizes up to this take the inlined fast paths.
const TINY: usize = 256;

/// The class of a small allocation, or `None` for one the system serves.
#[inline(always)]
fn class(layout: Layout) -> Option<usize> {
    let size = layout.size();
    if size > SMALL || layout.align() > ALIGN {
        None
    } else if size <= TINY {
        Some(tiny_class(size))
    } else {
        // 257..=512 → 16, ..=1024 → 17, ..=2048 → 18.
        Some(16 + (usize::BITS - (size - 1).leading_zeros()) as usize - 9)
    }
}

#[inline(always)]
fn class_size(class: usize) -> usize {
    if class < 16 {
        (class + 1) * 16
    } else {
        512 << (class - 16)
    }
}

#[inline(always)]
fn tiny_class(size: usize) -> usize {
    size.saturating_sub(1) / 16
}

/// The class of a tiny layout (the inlined paths), or `None`.
#[inline(always)]
fn tiny(layout: Layout) -> Option<usize> {
    (layout.size() <= TINY && layout.align() <= ALIGN).then(|| tiny_class(layout.size()))
}

/// Allocator state: one free list per class (linked through the free blocks
/// themselves) and the unused rest of the current chunk.
pub struct Heap<S> {
    system: S,
    free: [*mut u8; CLASSES],
    next: *mut u8,
    end: *mut u8,
}

impl<S: GlobalAlloc> Heap<S> {
    pub const fn new(system: S) -> Heap<S> {
        Heap {
            system,
            free: [ptr::null_mut(); CLASSES],
            next: ptr::null_mut(),
            end: ptr::null_mut(),
        }
    }

    /// # Safety
    /// As [`GlobalAlloc::alloc`]: `layout` has a non-zero size.
    ///
    /// Only the tiny path is inlined: it runs per row in plugins' loops, and
    /// anything bigger there stops the compiler inlining the plugin's own
    /// per-row functions.
    #[inline(always)]
    pub unsafe fn alloc(&mut self, layout: Layout) -> *mut u8 {
        if let Some(block) = tiny(layout).and_then(|c| self.pop(c)) {
            return block;
        }
        // SAFETY: the caller's contract.
        unsafe { self.alloc_slow(layout) }
    }

    /// A freed block of class `c`, if there is one.
    #[inline(always)]
    fn pop(&mut self, c: usize) -> Option<*mut u8> {
        let head = self.free[c];
        if head.is_null() {
            return None;
        }
        // SAFETY: a block on a free list holds the next block's address in
        // its first word (written by `push`).
        self.free[c] = unsafe { head.cast::<*mut u8>().read() };
        Some(head)
    }

    /// # Safety
    /// As [`GlobalAlloc::alloc`].
    #[inline(never)]
    unsafe fn alloc_slow(&mut self, layout: Layout) -> *mut u8 {
        let Some(c) = class(layout) else {
            // SAFETY: the caller's contract is the system allocator's.
            return unsafe { self.system.alloc(layout) };
        };
        match self.pop(c) {
            Some(block) => block,
            None => self.carve(class_size(c)),
        }
    }

    /// A fresh block from the current chunk, or from a new one.
    #[inline(never)]
    fn carve(&mut self, size: usize) -> *mut u8 {
        if (self.end as usize) - (self.next as usize) < size {
            // SAFETY: CHUNK is non-zero and ALIGN a power of two.
            let chunk = unsafe {
                self.system
                    .alloc(Layout::from_size_align_unchecked(CHUNK, ALIGN))
            };
            if chunk.is_null() {
                return chunk;
            }
            // The tail of the old chunk (under 2 KiB) is given up.
            self.next = chunk;
            // SAFETY: `chunk` is the start of a CHUNK-byte allocation.
            self.end = unsafe { chunk.add(CHUNK) };
        }
        let block = self.next;
        // SAFETY: at least `size` bytes remain between `next` and `end`.
        self.next = unsafe { block.add(size) };
        block
    }

    /// # Safety
    /// As [`GlobalAlloc::dealloc`]: `ptr` came from this heap with `layout`.
    #[inline(always)]
    pub unsafe fn dealloc(&mut self, ptr: *mut u8, layout: Layout) {
        if let Some(c) = tiny(layout) {
            // SAFETY: as in `push`.
            unsafe { self.push(ptr, c) };
        } else {
            // SAFETY: the caller's contract.
            unsafe { self.dealloc_slow(ptr, layout) };
        }
    }

    /// # Safety
    /// As [`GlobalAlloc::dealloc`].
    #[inline(never)]
    unsafe fn dealloc_slow(&mut self, ptr: *mut u8, layout: Layout) {
        match class(layout) {
            // SAFETY: as in `push`.
            Some(c) => unsafe { self.push(ptr, c) },
            // SAFETY: a large block came from the system with this layout.
            None => unsafe { self.system.dealloc(ptr, layout) },
        }
    }

    /// # Safety
    /// `ptr` is a block of class `c` from this heap that nobody uses any more.
    #[inline(always)]
    unsafe fn push(&mut self, ptr: *mut u8, c: usize) {
        // SAFETY: the block is at least 16 bytes and 16-aligned, and free: its
        // first word links the free list.
        unsafe { ptr.cast::<*mut u8>().write(self.free[c]) };
        self.free[c] = ptr;
    }

    /// # Safety
    /// As [`GlobalAlloc::alloc_zeroed`].
    // Out of line, like `realloc`, for the reason given at `alloc`.
    #[inline(never)]
    pub unsafe fn alloc_zeroed(&mut self, layout: Layout) -> *mut u8 {
        if class(layout).is_none() {
            // SAFETY: as for `alloc`; fresh system memory may need no clearing.
            return unsafe { self.system.alloc_zeroed(layout) };
        }
        // SAFETY: as for `alloc`; the block has at least `layout.size()` bytes.
        unsafe {
            let p = self.alloc(layout);
            if !p.is_null() {
                ptr::write_bytes(p, 0, layout.size());
            }
            p
        }
    }

    /// # Safety
    /// As [`GlobalAlloc::realloc`].
    #[inline(never)]
    pub unsafe fn realloc(&mut self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `realloc`'s contract makes this a valid layout.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class(layout), class(new)) {
            (Some(a), Some(b)) if a == b => ptr,
            // SAFETY: both sizes belong to the system, which made `ptr`.
            (None, None) => unsafe { self.system.realloc(ptr, layout, new_size) },
            // SAFETY: the new block is fresh; the old one holds `layout.size()`
            // bytes, of which the smaller size are copied before it is freed.
            _ => unsafe {
                let p = self.alloc(new);
                if !p.is_null() {
                    ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                p
            },
        }
    }
}

/// The global allocator of a plugin component.
#[cfg(all(
    feature = "heap",
    target_family = "wasm",
    not(target_feature = "atomics")
))]
pub mod global {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::UnsafeCell;

    use super::Heap;

    pub struct PluginHeap(UnsafeCell<Heap<System>>);

    // SAFETY: without the `atomics` target feature a WebAssembly instance has
    // exactly one thread, so the heap is never used from two at once.
    unsafe impl Sync for PluginHeap {}

    impl PluginHeap {
        pub const fn new() -> PluginHeap {
            PluginHeap(UnsafeCell::new(Heap::new(System)))
        }
    }

    impl Default for PluginHeap {
        fn default() -> PluginHeap {
            PluginHeap::new()
        }
    }

    // SAFETY: every method forwards its caller's contract to `Heap`, and the
    // one thread (see `Sync`) never re-enters the allocator from inside it.
    unsafe impl GlobalAlloc for PluginHeap {
        #[inline(always)]
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: see the impl; the caller upholds `alloc`'s contract.
            unsafe { (*self.0.get()).alloc(layout) }
        }
        #[inline(always)]
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: see the impl; the caller upholds `dealloc`'s contract.
            unsafe { (*self.0.get()).dealloc(ptr, layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: see the impl; the caller upholds `alloc_zeroed`'s contract.
            unsafe { (*self.0.get()).alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: see the impl; the caller upholds `realloc`'s contract.
            unsafe { (*self.0.get()).realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static HEAP: PluginHeap = PluginHeap::new();
}
