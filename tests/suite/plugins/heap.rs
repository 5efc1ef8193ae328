//! The plugin SDK's allocator (`plugins/sdk/src/heap.rs`), compiled natively
//! over the system allocator: blocks are aligned, never overlap, keep their
//! bytes through `realloc`, and are reused once freed.

// The file's global-allocator part is for wasm builds with the SDK's features.
#[allow(dead_code, unexpected_cfgs)]
#[path = "../../../plugins/sdk/src/heap.rs"]
mod sdk_heap;

use std::alloc::{Layout, System};

use sdk_heap::{Heap, SMALL};

struct Block {
    ptr: *mut u8,
    layout: Layout,
    fill: u8,
}

/// Fills a block with one byte value; `check` later finds it intact.
fn fill(b: &Block) {
    // SAFETY: `ptr` holds `layout.size()` bytes, live until freed.
    unsafe { std::ptr::write_bytes(b.ptr, b.fill, b.layout.size()) };
}

fn check(b: &Block, len: usize) {
    // SAFETY: as in `fill`; `len` is at most the block's size.
    let bytes = unsafe { std::slice::from_raw_parts(b.ptr, len) };
    assert!(
        bytes.iter().all(|&x| x == b.fill),
        "a block of {} bytes was overwritten",
        b.layout.size()
    );
}

#[test]
fn blocks_are_aligned_disjoint_and_survive_realloc() {
    let mut heap = Heap::new(System);
    let mut live: Vec<Block> = Vec::new();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for step in 0..20_000u32 {
        let r = next();
        match r % 4 {
            // Allocate: mostly small sizes, some past SMALL, a few over-aligned.
            0 | 1 => {
                let size = match r >> 8 & 7 {
                    0 => 1 + (r >> 16) as usize % (4 * SMALL),
                    _ => 1 + (r >> 16) as usize % 300,
                };
                let align = [1, 2, 8, 16, 32, 64][(r >> 40) as usize % 6];
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: the size is non-zero.
                let ptr = unsafe { heap.alloc(layout) };
                assert!(!ptr.is_null());
                assert_eq!(ptr as usize % align, 0, "{layout:?}");
                let b = Block {
                    ptr,
                    layout,
                    fill: step as u8,
                };
                fill(&b);
                live.push(b);
            }
            // Grow or shrink one, keeping what fits.
            2 if !live.is_empty() => {
                let i = (r >> 8) as usize % live.len();
                let b = &mut live[i];
                check(b, b.layout.size());
                let new_size = 1 + (r >> 20) as usize % (3 * SMALL);
                // SAFETY: `ptr` came from this heap with `layout`; the size is non-zero.
                let ptr = unsafe { heap.realloc(b.ptr, b.layout, new_size) };
                assert!(!ptr.is_null());
                assert_eq!(ptr as usize % b.layout.align(), 0);
                b.ptr = ptr;
                check(b, b.layout.size().min(new_size));
                b.layout = Layout::from_size_align(new_size, b.layout.align()).unwrap();
                fill(b);
            }
            // Free one.
            _ if !live.is_empty() => {
                let b = live.swap_remove((r >> 8) as usize % live.len());
                check(&b, b.layout.size());
                // SAFETY: `ptr` came from this heap with `layout`, and is dropped here.
                unsafe { heap.dealloc(b.ptr, b.layout) };
            }
            _ => {}
        }
    }
    for b in live {
        check(&b, b.layout.size());
        // SAFETY: as above.
        unsafe { heap.dealloc(b.ptr, b.layout) };
    }
}

#[test]
fn freed_blocks_are_reused_and_zeroed_when_asked() {
    let mut heap = Heap::new(System);
    let small = Layout::from_size_align(40, 8).unwrap();
    let mid = Layout::from_size_align(700, 8).unwrap();
    for layout in [small, mid] {
        // SAFETY: sizes are non-zero; each block is freed once, after use.
        unsafe {
            let a = heap.alloc(layout);
            std::ptr::write_bytes(a, 0xAB, layout.size());
            heap.dealloc(a, layout);
            // A block of the same class comes back first...
            let b = heap.alloc_zeroed(layout);
            assert_eq!(a, b);
            // ...cleared.
            assert!(
                std::slice::from_raw_parts(b, layout.size())
                    .iter()
                    .all(|&x| x == 0)
            );
            // Within its class a block grows in place.
            let c = heap.realloc(b, layout, layout.size() + 1);
            assert_eq!(b, c);
            heap.dealloc(c, Layout::from_size_align(layout.size() + 1, 8).unwrap());
        }
    }
}
