//! Host-side bindings of the `floe:plugin` world (`wit/floe-plugin.wit`).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    // Capability checks fail the call with a trap.
    imports: { default: trappable },
    // Calls run on a fiber, so that one outrunning its time on the query's
    // worker can be suspended there and resumed elsewhere (`plugin::drive`).
    exports: { default: async },
    // Arguments go to the guest straight from borrowed slices.
    ownership: Borrowing { duplicate_if_necessary: true },
});
