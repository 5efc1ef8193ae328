//! Host-side bindings of the `floe:plugin` world (`wit/floe-plugin.wit`).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    // Capability checks fail the call with a trap.
    imports: { default: trappable },
    // Arguments go to the guest straight from borrowed slices.
    ownership: Borrowing { duplicate_if_necessary: true },
});
