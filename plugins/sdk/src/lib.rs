//! Write floe SQL functions as plain Rust functions.
//!
//! ```ignore
//! fn daypart(hour: i64) -> Option<&'static str> { ... }
//!
//! floe_plugin::export! {
//!     scalar: [daypart(hour: i64) -> Option<&'static str>],
//! }
//! ```
//!
//! `cargo build --target wasm32-wasip2 --release` then gives a component that
//! `CREATE FUNCTION daypart RETURNS STRING SONAME 'yourcrate.wasm'` installs.
//! floe calls the component once per batch of rows; the code [`export!`]
//! generates loops over the batch and calls your function once per row, so
//! the function itself stays plain.
//!
//! Arguments are `i64`, `f64`, `bool`, `&str`, `&[u8]`, [`Date`], [`DateTime`]
//! and [`Decimal`]. A NULL argument gives a NULL result without calling the
//! function; take `Option<T>` to see NULLs yourself. Results are the same
//! types (`String` and `Vec<u8>` as well), or an `Option` of one for NULL.
//!
//! The SDK also sets the component's global allocator: free lists of small
//! blocks, a few instructions per allocation where wasi-libc's malloc spends
//! many (per-row `String`s are common). Depend on it with
//! `default-features = false` to bring your own.

extern crate self as floe_plugin;

mod aggregate;
mod column;
#[doc(hidden)]
pub mod heap;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_world",
        default_bindings_module: "floe_plugin::bindings",
        runtime_path: "floe_plugin::__wit_bindgen::rt",
    });
}

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

pub use aggregate::{Aggregate, Groups};
pub use bindings::floe::plugin::types::{
    Capability, Column, DataType, DecimalType, Function, FunctionKind,
};
pub use column::{ColumnBuilder, Date, DateTime, Decimal, Output, Param};

use bindings::floe::plugin::host;

/// Microseconds since the Unix epoch. Only for functions declared with
/// `needs(clock)`; floe refuses the call otherwise.
pub fn now_micros() -> i64 {
    host::now_micros()
}

/// 64 random bits. Only for functions declared with `needs(random)`.
pub fn random_u64() -> u64 {
    host::random_u64()
}

/// Sends a panic's message to floe before the component aborts, so that it
/// appears in the failed query's error.
#[doc(hidden)]
pub fn catch_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = match info.payload().downcast_ref::<&str>() {
                Some(s) => (*s).to_string(),
                None => match info.payload().downcast_ref::<String>() {
                    Some(s) => s.clone(),
                    None => "panic".to_string(),
                },
            };
            let message = match info.location() {
                Some(at) => format!("{message} at {}:{}", at.file(), at.line()),
                None => message,
            };
            host::panic_message(&message);
        }))
    });
}

#[doc(hidden)]
pub fn describe(
    name: &str,
    kind: FunctionKind,
    args: Vec<DataType>,
    returns: DataType,
    needs: Vec<Capability>,
) -> Function {
    Function {
        name: name.to_string(),
        kind,
        args,
        returns,
        deterministic: needs.is_empty(),
        needs,
    }
}

#[doc(hidden)]
pub fn arity(name: &str, expected: usize, got: usize) -> Result<(), String> {
    if expected == got {
        Ok(())
    } else {
        Err(format!("{name} takes {expected} arguments, got {got}"))
    }
}

/// Exports functions from this crate as a floe plugin.
///
/// ```ignore
/// floe_plugin::export! {
///     scalar: [
///         daypart(hour: i64) -> Option<&'static str>,
///         mask_phone(text: &str) -> String,
///         needs(clock) age_in_days(day: Date) -> i64,
///     ],
///     aggregate: [approx_distinct = Hll],
/// }
/// ```
///
/// Each scalar entry names a function in scope with its argument names and
/// types, exactly as declared. A function that uses [`now_micros`] or
/// [`random_u64`] must say so with `needs(clock)` / `needs(random)`; it is then
/// reported as non-deterministic. Each aggregate entry gives the SQL name and
/// a type implementing [`Aggregate`].
#[macro_export]
macro_rules! export {
    (
        scalar: [ $(
            $( needs( $($cap:ident),* ) )?
            $name:ident ( $( $arg:ident : $t:ty ),* $(,)? ) -> $ret:ty
        ),* $(,)? ]
        $(, aggregate: [ $( $agg_name:ident = $agg:ty ),* $(,)? ] )?
        $(,)?
    ) => {
        struct __FloePlugin;

        struct __FloeAccumulator(::std::cell::RefCell<::std::boxed::Box<dyn $crate::Groups>>);

        const __FLOE_SCALARS: u32 = 0 $( + { let _ = stringify!($name); 1 } )*;

        impl $crate::bindings::exports::floe::plugin::functions::Guest for __FloePlugin {
            type Accumulator = __FloeAccumulator;

            fn describe() -> ::std::vec::Vec<$crate::Function> {
                let mut all = ::std::vec::Vec::new();
                $(
                    all.push($crate::describe(
                        stringify!($name),
                        $crate::FunctionKind::Scalar,
                        vec![$( <$t as $crate::Param>::data_type() ),*],
                        <$ret as $crate::Output>::data_type(),
                        vec![$( $( $crate::__capability!($cap) ),* )?],
                    ));
                )*
                $( $(
                    all.push($crate::describe(
                        stringify!($agg_name),
                        $crate::FunctionKind::Aggregate,
                        vec![<<$agg as $crate::Aggregate>::Input<'_> as $crate::Param>::data_type()],
                        <<$agg as $crate::Aggregate>::Output as $crate::Output>::data_type(),
                        vec![],
                    ));
                )* )?
                all
            }

            #[allow(unused_assignments, unused_mut, unused_variables)]
            fn call(
                function: u32,
                args: ::std::vec::Vec<$crate::Column>,
                rows: u32,
            ) -> ::std::result::Result<$crate::Column, ::std::string::String> {
                $crate::catch_panics();
                let rows = rows as usize;
                let mut index = 0u32;
                $(
                    if function == index {
                        // Each function's batch loop is a function of its own:
                        // in one body with the other functions' loops, the
                        // wasm compiler's register allocator spills the hot
                        // loop's values (and its interrupt check's) to the stack.
                        #[inline(never)]
                        fn batch(
                            args: &[$crate::Column],
                            rows: usize,
                        ) -> ::std::result::Result<$crate::Column, ::std::string::String> {
                            let names: &[&str] = &[$( stringify!($arg) ),*];
                            $crate::arity(stringify!($name), names.len(), args.len())?;
                            let mut k = 0usize;
                            $(
                                let $arg = <$t as $crate::Param>::view(&args[k])?;
                                k += 1;
                            )*
                            let mut out = <<$ret as $crate::Output>::Builder as $crate::ColumnBuilder>::with_capacity(rows);
                            for row in 0..rows {
                                $(
                                    let $arg: $t = match <$t as $crate::Param>::get(&$arg, row) {
                                        Some(v) => v,
                                        None => {
                                            $crate::ColumnBuilder::push_null(&mut out);
                                            continue;
                                        }
                                    };
                                )*
                                $crate::Output::push($name($($arg),*), &mut out);
                            }
                            Ok($crate::ColumnBuilder::finish(out))
                        }
                        return batch(&args, rows);
                    }
                    index += 1;
                )*
                Err(format!("no scalar function number {function}"))
            }
        }

        impl $crate::bindings::exports::floe::plugin::functions::GuestAccumulator for __FloeAccumulator {
            #[allow(unused_mut, unused_variables)]
            fn new(function: u32) -> Self {
                $crate::catch_panics();
                let mut index = __FLOE_SCALARS;
                $( $(
                    if function == index {
                        return __FloeAccumulator(::std::cell::RefCell::new(
                            ::std::boxed::Box::new(::std::vec::Vec::<$agg>::new()),
                        ));
                    }
                    index += 1;
                )* )?
                panic!("no aggregate function number {function}")
            }
            fn update(&self, groups: ::std::vec::Vec<u32>, total: u32, args: ::std::vec::Vec<$crate::Column>) -> ::std::result::Result<(), ::std::string::String> {
                self.0.borrow_mut().update(&groups, total, &args)
            }
            fn state(&self, emit: u32) -> ::std::result::Result<$crate::Column, ::std::string::String> {
                self.0.borrow_mut().state(emit)
            }
            fn merge(&self, groups: ::std::vec::Vec<u32>, total: u32, states: $crate::Column) -> ::std::result::Result<(), ::std::string::String> {
                self.0.borrow_mut().merge(&groups, total, &states)
            }
            fn finish(&self, emit: u32) -> ::std::result::Result<$crate::Column, ::std::string::String> {
                self.0.borrow_mut().finish(emit)
            }
        }

        $crate::bindings::__export_world!(__FloePlugin with_types_in $crate::bindings);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __capability {
    (clock) => {
        $crate::Capability::Clock
    };
    (random) => {
        $crate::Capability::Random
    };
}
