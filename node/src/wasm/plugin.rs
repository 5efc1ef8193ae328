//! A loaded plugin: its compiled component, what it exports, and a pool of
//! ready instances shared by every query and thread of the node. Each call
//! runs in a sandbox: no imports but floe's `host` interface (anything else
//! the component imports, such as WASI, traps), a memory cap, and a
//! deadline checked at every epoch tick.

use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use arrow::array::ArrayRef;
use wasmtime::component::{HasSelf, Linker, ResourceAny};
use wasmtime::{ResourceLimiter, Store, StoreContextMut, Trap, UpdateDeadline};

use super::bindings::floe::plugin::types::{Capability, DataType, Function, FunctionKind};
use super::bindings::{Plugin as Bindings, PluginPre};
use super::convert::{self, Lowered};
use super::error::PluginError;
use super::runtime::{Runtime, TICK, one_line, root};

/// What one function of a plugin is, as it described itself.
#[derive(Clone, Debug)]
pub struct Spec {
    pub index: u32,
    pub name: String,
    pub aggregate: bool,
    pub args: Vec<DataType>,
    pub returns: DataType,
    pub deterministic: bool,
    pub clock: bool,
    pub random: bool,
}

/// Time limits of calls: the statement's deadline (`max_execution_time`)
/// if it has one, a bound on each call, and the statement's cancellation.
#[derive(Clone, Debug)]
pub struct Limits {
    /// When the statement must end, and its limit in milliseconds.
    pub statement: Option<(Instant, u64)>,
    pub per_call: Duration,
    pub interrupt: Option<Interrupt>,
}

/// Whether the statement running a call was cancelled (`KILL QUERY`). A
/// call runs synchronously inside the query's execution, which cannot be
/// dropped until it returns, so the call polls this at every epoch tick.
#[derive(Clone)]
pub struct Interrupt(Arc<dyn Fn() -> bool + Send + Sync>);

impl Interrupt {
    pub fn new(raised: impl Fn() -> bool + Send + Sync + 'static) -> Interrupt {
        Interrupt(Arc::new(raised))
    }

    pub fn is_raised(&self) -> bool {
        (self.0)()
    }
}

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Interrupt(raised: {})", self.is_raised())
    }
}

impl Limits {
    /// The deadline of a call starting now, and the limit it comes from.
    fn deadline(&self) -> (Instant, u64) {
        let call = (
            Instant::now() + self.per_call,
            self.per_call.as_millis() as u64,
        );
        match self.statement {
            Some(s) if s.0 < call.0 => s,
            _ => call,
        }
    }
}

/// A store's data: the sandbox's state for the current call.
pub struct Sandbox {
    memory_limit: usize,
    /// Linear memory of all the instance's memories together.
    memory_used: usize,
    memory_denied: bool,
    panic: Option<String>,
    clock: bool,
    random: bool,
    deadline: Option<Instant>,
    deadline_millis: u64,
    timed_out: bool,
    interrupt: Option<Interrupt>,
    interrupted: bool,
    /// While a call runs on the query's own worker thread: when it must
    /// be suspended there, to go on off the worker's hands. The deadline
    /// callback clears it when it suspends the call.
    inline_until: Option<Instant>,
}

impl ResourceLimiter for Sandbox {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .memory_used
            .saturating_add(desired.saturating_sub(current));
        let ok = total <= self.memory_limit;
        if ok {
            self.memory_used = total;
        }
        self.memory_denied |= !ok;
        Ok(ok)
    }

    // A component built by cargo has a handful of each; bound them so the
    // memory cap cannot be split across thousands.
    fn instances(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        8
    }

    fn tables(&self) -> usize {
        64
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl super::bindings::floe::plugin::host::Host for Sandbox {
    fn panic_message(&mut self, message: String) -> wasmtime::Result<()> {
        self.panic = Some(one_line(&message));
        Ok(())
    }

    fn now_micros(&mut self) -> wasmtime::Result<i64> {
        if !self.clock {
            wasmtime::bail!("the clock is not granted to this function");
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Ok(now.as_micros() as i64)
    }

    fn random_u64(&mut self) -> wasmtime::Result<u64> {
        if !self.random {
            wasmtime::bail!("randomness is not granted to this function");
        }
        Ok(rand::random())
    }
}

impl super::bindings::floe::plugin::types::Host for Sandbox {}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Plugin({})", self.file)
    }
}

struct Instance {
    store: Store<Sandbox>,
    bindings: Bindings,
}

pub struct Plugin {
    /// The file it was installed from, for messages.
    pub file: String,
    pub functions: Vec<Spec>,
    runtime: Arc<Runtime>,
    pre: PluginPre<Sandbox>,
    idle: Mutex<Vec<Instance>>,
    /// By function: a call has outrun [`INLINE_BUDGET`], so its calls go
    /// off the worker's hands from the start.
    slow: Vec<AtomicBool>,
}

/// Instances kept for reuse; more are made on demand and dropped after.
const MAX_IDLE: usize = 64;
/// Instances holding more linear memory than this are not kept.
const KEEP_MEMORY: usize = 16 << 20;
/// How long a call may run on the query's worker thread before it is
/// suspended and resumed with the worker's duties handed to another thread.
/// Handing them over costs more than most calls of a batch (~14 µs against
/// a few, and it leaves a core idle while threads trade places), and a call
/// this short delays no one.
const INLINE_BUDGET: Duration = TICK;

/// Runs a call's future to its end on this thread. It starts where the
/// query runs; a call that outruns [`INLINE_BUDGET`] there is suspended at
/// the next epoch tick (the deadline callback yields) and resumed with the
/// worker's other duties (the tasks queued behind this one, polling for
/// I/O, other connections' KILL QUERY) handed to another thread.
fn drive<R>(call: impl Future<Output = R>) -> R {
    let mut call = pin!(call);
    let mut cx = Context::from_waker(Waker::noop());
    match call.as_mut().poll(&mut cx) {
        Poll::Ready(r) => r,
        // The callback yields once per call and plugins import nothing
        // asynchronous, so the next poll runs the call to its end (or to
        // its deadline's trap); the loop only guards against a spurious
        // wake-up.
        Poll::Pending => crate::blocking::in_place(|| {
            loop {
                if let Poll::Ready(r) = call.as_mut().poll(&mut cx) {
                    break r;
                }
            }
        }),
    }
}

impl Plugin {
    /// Compiles (or loads from the cache), links and describes a component
    /// whose content hash is `sha`.
    pub fn load(
        runtime: &Arc<Runtime>,
        file: &str,
        sha: &str,
        wasm: &[u8],
    ) -> Result<Arc<Plugin>, PluginError> {
        let open = |reason: String| PluginError::Open {
            file: file.to_string(),
            reason,
        };
        let component = runtime.compile(file, sha, wasm)?;
        let mut linker = Linker::<Sandbox>::new(&runtime.engine);
        Bindings::add_to_linker::<Sandbox, HasSelf<Sandbox>>(&mut linker, |s| s)
            .map_err(|e| open(root(&e)))?;
        // WASI and anything else a component may import: present, but traps.
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(|e| open(root(&e)))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(PluginPre::new)
            .map_err(|e| open(root(&e)))?;
        let mut plugin = Plugin {
            file: file.to_string(),
            functions: Vec::new(),
            runtime: runtime.clone(),
            pre,
            idle: Mutex::new(Vec::new()),
            slow: Vec::new(),
        };
        let describe = Spec {
            index: 0,
            name: "describe".into(),
            aggregate: false,
            args: vec![],
            returns: DataType::Bigint,
            deterministic: true,
            clock: false,
            random: false,
        };
        let limits = Limits {
            statement: None,
            per_call: Duration::from_secs(5),
            interrupt: None,
        };
        let described = plugin
            .with_instance(&describe, limits, async |b, store| {
                b.floe_plugin_functions().call_describe(store).await
            })
            .map_err(|e| open(e.to_string()))?;
        plugin.functions = specs(described).map_err(open)?;
        plugin.slow = plugin
            .functions
            .iter()
            .map(|_| AtomicBool::new(false))
            .collect();
        Ok(Arc::new(plugin))
    }

    pub fn function(&self, name: &str) -> Option<&Spec> {
        self.functions
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    fn checkout(&self) -> Result<Instance, PluginError> {
        if let Some(i) = self.idle.lock().ok().and_then(|mut v| v.pop()) {
            return Ok(i);
        }
        let mut store = Store::new(
            &self.runtime.engine,
            Sandbox {
                memory_limit: self.runtime.options.memory_limit,
                memory_used: 0,
                memory_denied: false,
                panic: None,
                clock: false,
                random: false,
                // Start functions run during instantiation: bound them too.
                deadline: Some(Instant::now() + self.runtime.options.call_timeout),
                deadline_millis: self.runtime.options.call_timeout.as_millis() as u64,
                timed_out: false,
                interrupt: None,
                interrupted: false,
                inline_until: None,
            },
        );
        store.limiter(|s| s);
        store.epoch_deadline_callback(|mut ctx: StoreContextMut<Sandbox>| {
            let s = ctx.data_mut();
            if s.interrupt.as_ref().is_some_and(Interrupt::is_raised) {
                s.interrupted = true;
                return Ok(UpdateDeadline::Interrupt);
            }
            if s.deadline.is_some_and(|d| Instant::now() >= d) {
                s.timed_out = true;
                return Ok(UpdateDeadline::Interrupt);
            }
            if s.inline_until.is_some_and(|d| Instant::now() >= d) {
                // Once per call: `drive` resumes it where it may run long.
                s.inline_until = None;
                return Ok(UpdateDeadline::Yield(1));
            }
            Ok(UpdateDeadline::Continue(1))
        });
        store.set_epoch_deadline(1);
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| PluginError::Open {
                file: self.file.clone(),
                reason: root(&e),
            })?;
        Ok(Instance { store, bindings })
    }

    fn checkin(&self, instance: Instance) {
        // An instance whose memory grew large gives it back by going away.
        if instance.store.data().memory_used > KEEP_MEMORY {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(instance);
        }
    }

    /// Runs `f` on an instance prepared for one call of `spec`. An instance
    /// whose call trapped is dropped; others go back to the pool.
    fn with_instance<R>(
        &self,
        spec: &Spec,
        limits: Limits,
        f: impl AsyncFnOnce(&Bindings, &mut Store<Sandbox>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let mut instance = self.checkout()?;
        self.prepare(&mut instance, spec, &limits);
        match self.run(&mut instance, spec, f) {
            Ok(r) => {
                self.checkin(instance);
                Ok(r)
            }
            Err(e) => Err(self.fault(&instance, spec, &e)),
        }
    }

    /// Runs one call of `spec` on a prepared instance: on this thread first
    /// (see [`drive`]), or off the worker's hands from the start for a
    /// function that has outrun [`INLINE_BUDGET`] before. A call may run up
    /// to its time limit, so it must not hold the worker's other tasks that
    /// long.
    fn run<R>(
        &self,
        instance: &mut Instance,
        spec: &Spec,
        f: impl AsyncFnOnce(&Bindings, &mut Store<Sandbox>) -> wasmtime::Result<R>,
    ) -> wasmtime::Result<R> {
        let Instance { store, bindings } = instance;
        match self.slow.get(spec.index as usize) {
            Some(slow) if !slow.load(Ordering::Relaxed) => {
                store.data_mut().inline_until = Some(Instant::now() + INLINE_BUDGET);
                let r = drive(f(bindings, store));
                // Cleared: the call was suspended, having outrun its budget.
                if store.data().inline_until.is_none() {
                    slow.store(true, Ordering::Relaxed);
                }
                r
            }
            _ => crate::blocking::in_place(|| drive(f(bindings, store))),
        }
    }

    fn prepare(&self, instance: &mut Instance, spec: &Spec, limits: &Limits) {
        let opts = &self.runtime.options;
        let s = instance.store.data_mut();
        s.memory_denied = false;
        s.panic = None;
        s.timed_out = false;
        s.interrupted = false;
        let (deadline, millis) = limits.deadline();
        s.deadline = Some(deadline);
        s.deadline_millis = millis;
        s.interrupt = limits.interrupt.clone();
        // Capabilities only for functions that declared them, and only
        // those this node grants.
        s.clock = !spec.deterministic && spec.clock && opts.grant_clock;
        s.random = !spec.deterministic && spec.random && opts.grant_random;
        s.inline_until = None;
        instance.store.set_epoch_deadline(1);
    }

    /// Why a call failed, from the sandbox's record of it.
    fn fault(&self, instance: &Instance, spec: &Spec, e: &wasmtime::Error) -> PluginError {
        let name = spec.name.clone();
        let s = instance.store.data();
        if s.interrupted {
            return PluginError::Interrupted { name };
        }
        if s.timed_out || e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return PluginError::Timeout {
                name,
                millis: s.deadline_millis,
            };
        }
        if let Some(message) = &s.panic {
            return PluginError::Panic {
                name,
                message: message.clone(),
            };
        }
        if s.memory_denied {
            return PluginError::Memory {
                name,
                limit_mib: s.memory_limit >> 20,
            };
        }
        PluginError::Trap {
            name,
            message: root(e),
        }
    }

    /// Evaluates a scalar function over one batch.
    pub fn call(
        &self,
        spec: &Spec,
        args: &[ArrayRef],
        rows: usize,
        limits: Limits,
    ) -> Result<ArrayRef, PluginError> {
        let lowered = lower(spec, args)?;
        let params: Vec<_> = lowered.iter().map(Lowered::param).collect();
        let result = self.with_instance(spec, limits, async |b, store| {
            b.floe_plugin_functions()
                .call_call(store, spec.index, &params, rows as u32)
                .await
        })?;
        let column = result.map_err(|message| PluginError::Failed {
            name: spec.name.clone(),
            message: one_line(&message),
        })?;
        convert::lift(column, &spec.returns, rows).map_err(|message| PluginError::Contract {
            name: spec.name.clone(),
            message,
        })
    }

    /// A new accumulator of an aggregate function, holding one instance for
    /// its lifetime.
    pub fn accumulator(
        self: &Arc<Self>,
        spec: &Spec,
        limits: Limits,
    ) -> Result<Accumulator, PluginError> {
        let mut instance = self.checkout()?;
        self.prepare(&mut instance, spec, &limits);
        let made = self.run(&mut instance, spec, async |b, store| {
            b.floe_plugin_functions()
                .accumulator()
                .call_constructor(store, spec.index)
                .await
        });
        match made {
            Ok(handle) => Ok(Accumulator {
                plugin: self.clone(),
                spec: spec.clone(),
                instance: Some(instance),
                handle: Some(handle),
                limits,
            }),
            Err(e) => Err(self.fault(&instance, spec, &e)),
        }
    }
}

fn lower(spec: &Spec, args: &[ArrayRef]) -> Result<Vec<Lowered>, PluginError> {
    if args.len() != spec.args.len() {
        return Err(PluginError::Arguments {
            name: spec.name.clone(),
            reason: format!("it takes {} arguments, not {}", spec.args.len(), args.len()),
        });
    }
    args.iter()
        .zip(&spec.args)
        .map(|(a, t)| {
            let want = convert::arrow_type(t);
            let a = if a.data_type() == &want {
                a.clone()
            } else {
                arrow::compute::cast(a, &want).map_err(|e| PluginError::Arguments {
                    name: spec.name.clone(),
                    reason: format!(
                        "an argument of type {} is not {}: {e}",
                        a.data_type(),
                        convert::sql_name(t)
                    ),
                })?
            };
            Lowered::new(&a).map_err(|reason| PluginError::Arguments {
                name: spec.name.clone(),
                reason,
            })
        })
        .collect()
}

fn specs(described: Vec<Function>) -> Result<Vec<Spec>, String> {
    let mut out: Vec<Spec> = Vec::with_capacity(described.len());
    for (i, f) in described.into_iter().enumerate() {
        let name = f.name.to_ascii_lowercase();
        let ok_name = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok_name {
            return Err(format!("it describes a function named {:?}", f.name));
        }
        if out.iter().any(|s| s.name == name) {
            return Err(format!("it describes '{name}' twice"));
        }
        if !f.args.iter().chain([&f.returns]).all(convert::valid_type) {
            return Err(format!("'{name}' has an invalid DECIMAL type"));
        }
        let aggregate = matches!(f.kind, FunctionKind::Aggregate);
        if aggregate && f.args.len() != 1 {
            return Err(format!("aggregate '{name}' must take one argument"));
        }
        out.push(Spec {
            index: i as u32,
            name,
            aggregate,
            args: f.args,
            returns: f.returns,
            deterministic: f.deterministic,
            clock: f.needs.contains(&Capability::Clock),
            random: f.needs.contains(&Capability::Random),
        });
    }
    Ok(out)
}

/// The per-group state of one aggregate over one stream of batches.
pub struct Accumulator {
    plugin: Arc<Plugin>,
    spec: Spec,
    instance: Option<Instance>,
    handle: Option<ResourceAny>,
    limits: Limits,
}

impl Accumulator {
    /// Runs one method on the guest's accumulator; a trap poisons it.
    fn run<R>(
        &mut self,
        f: impl AsyncFnOnce(
            &Bindings,
            &mut Store<Sandbox>,
            ResourceAny,
        ) -> wasmtime::Result<Result<R, String>>,
    ) -> Result<R, PluginError> {
        let (Some(instance), Some(handle)) = (self.instance.as_mut(), self.handle) else {
            return Err(PluginError::Failed {
                name: self.spec.name.clone(),
                message: "the accumulator failed earlier".into(),
            });
        };
        self.plugin.prepare(instance, &self.spec, &self.limits);
        let r = self.plugin.run(instance, &self.spec, async |b, store| {
            f(b, store, handle).await
        });
        match r {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(message)) => Err(PluginError::Failed {
                name: self.spec.name.clone(),
                message: one_line(&message),
            }),
            Err(e) => {
                let fault = self.plugin.fault(instance, &self.spec, &e);
                self.instance = None;
                self.handle = None;
                Err(fault)
            }
        }
    }

    pub fn update(
        &mut self,
        groups: &[u32],
        total: u32,
        arg: &ArrayRef,
    ) -> Result<(), PluginError> {
        let lowered = lower(&self.spec, std::slice::from_ref(arg))?;
        let params: Vec<_> = lowered.iter().map(Lowered::param).collect();
        self.run(async |b, store, h| {
            b.floe_plugin_functions()
                .accumulator()
                .call_update(store, h, groups, total, &params)
                .await
        })
    }

    /// States of the first `emit` groups, as a BINARY array.
    pub fn state(&mut self, emit: usize) -> Result<ArrayRef, PluginError> {
        let column = self.run(async |b, store, h| {
            b.floe_plugin_functions()
                .accumulator()
                .call_state(store, h, emit as u32)
                .await
        })?;
        convert::lift(column, &DataType::Varbinary, emit).map_err(|message| PluginError::Contract {
            name: self.spec.name.clone(),
            message,
        })
    }

    pub fn merge(
        &mut self,
        groups: &[u32],
        total: u32,
        states: &ArrayRef,
    ) -> Result<(), PluginError> {
        let lowered = Lowered::new(states).map_err(|message| PluginError::Contract {
            name: self.spec.name.clone(),
            message,
        })?;
        self.run(async |b, store, h| {
            b.floe_plugin_functions()
                .accumulator()
                .call_merge(store, h, groups, total, lowered.param())
                .await
        })
    }

    pub fn finish(&mut self, emit: usize) -> Result<ArrayRef, PluginError> {
        let column = self.run(async |b, store, h| {
            b.floe_plugin_functions()
                .accumulator()
                .call_finish(store, h, emit as u32)
                .await
        })?;
        convert::lift(column, &self.spec.returns, emit).map_err(|message| PluginError::Contract {
            name: self.spec.name.clone(),
            message,
        })
    }
}

impl Drop for Accumulator {
    fn drop(&mut self) {
        if let (Some(mut instance), Some(handle)) = (self.instance.take(), self.handle.take()) {
            // Freeing the guest's state is a call too: bound it like one.
            let limits = Limits {
                statement: None,
                per_call: Duration::from_secs(1),
                interrupt: None,
            };
            self.plugin.prepare(&mut instance, &self.spec, &limits);
            if handle.resource_drop(&mut instance.store).is_ok() {
                self.plugin.checkin(instance);
            }
        }
    }
}
