//! Plugin functions as DataFusion functions: a scalar UDF calls the plugin
//! once per batch; an aggregate UDF keeps one plugin accumulator per
//! partition (a `GroupsAccumulator`, so `GROUP BY` runs in parallel and
//! partial states merge).

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, BooleanArray, UInt32Array};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, EmitTo, GroupsAccumulator,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};
use datafusion::scalar::ScalarValue;

use super::convert;
use super::error::PluginError;
use super::plugin::{self, Interrupt, Limits, Plugin, Spec};

/// The time limits of one session's statements, shared with its functions.
#[derive(Debug)]
pub struct SessionLimits {
    statement: Mutex<Option<(Instant, u64)>>,
    per_call: Duration,
    interrupt: Option<Interrupt>,
    /// A call of this statement that timed out (function, limit): later
    /// calls fail at once instead of spinning again (the planner may try
    /// a constant call several times before execution does).
    timed_out: Mutex<Option<(String, u64)>>,
}

impl SessionLimits {
    pub fn new(per_call: Duration, interrupt: Option<Interrupt>) -> Arc<SessionLimits> {
        Arc::new(SessionLimits {
            statement: Mutex::new(None),
            per_call,
            interrupt,
            timed_out: Mutex::new(None),
        })
    }

    /// A statement starts; `max_execution_time` of 0 means none.
    pub fn start_statement(&self, limit: Option<Duration>) {
        if let Ok(mut s) = self.statement.lock() {
            *s = limit.map(|d| (Instant::now() + d, d.as_millis() as u64));
        }
        if let Ok(mut t) = self.timed_out.lock() {
            *t = None;
        }
    }

    /// Runs a call unless one of this statement already timed out.
    fn guard<R>(&self, f: impl FnOnce(Limits) -> Result<R, PluginError>) -> Result<R> {
        if let Some((name, millis)) = self.timed_out.lock().ok().and_then(|t| t.clone()) {
            return Err(external(PluginError::Timeout { name, millis }));
        }
        let r = f(self.limits());
        if let Err(PluginError::Timeout { name, millis }) = &r
            && let Ok(mut t) = self.timed_out.lock()
        {
            *t = Some((name.clone(), *millis));
        }
        r.map_err(external)
    }

    fn limits(&self) -> Limits {
        Limits {
            statement: self.statement.lock().ok().and_then(|s| *s),
            per_call: self.per_call,
            interrupt: self.interrupt.clone(),
        }
    }
}

fn external(e: PluginError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

fn signature(spec: &Spec) -> Signature {
    let volatility = if spec.deterministic {
        Volatility::Immutable
    } else {
        Volatility::Volatile
    };
    // Any argument types: they are cast to the declared ones per batch, with
    // a MySQL error when that is impossible.
    Signature::one_of(
        vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
        volatility,
    )
}

fn check_arity(spec: &Spec, arg_types: &[DataType]) -> Result<DataType> {
    if arg_types.len() != spec.args.len() {
        let declared: Vec<String> = spec.args.iter().map(convert::sql_name).collect();
        return Err(external(PluginError::Arguments {
            name: spec.name.clone(),
            reason: format!(
                "it takes {} argument(s) ({}), not {}",
                spec.args.len(),
                declared.join(", "),
                arg_types.len()
            ),
        }));
    }
    Ok(result_type(spec))
}

/// The SQL type of a result: MySQL has no boolean type, so BOOLEAN results
/// are integers 0/1 (`RETURNS INTEGER`), comparable with numbers.
fn result_type(spec: &Spec) -> DataType {
    match convert::arrow_type(&spec.returns) {
        DataType::Boolean => DataType::Int64,
        t => t,
    }
}

/// A plugin's result as its SQL type (see [`result_type`]).
fn as_sql(array: ArrayRef, want: &DataType) -> Result<ArrayRef> {
    if array.data_type() == want {
        Ok(array)
    } else {
        Ok(arrow::compute::cast(&array, want)?)
    }
}

/// One function of one plugin as seen by one session.
#[derive(Debug)]
struct Identity {
    spec: Spec,
    plugin: Arc<Plugin>,
    limits: Arc<SessionLimits>,
    signature: Signature,
}

impl PartialEq for Identity {
    fn eq(&self, other: &Self) -> bool {
        self.spec.name == other.spec.name && Arc::ptr_eq(&self.plugin, &other.plugin)
    }
}

impl Eq for Identity {}

impl Hash for Identity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.spec.name.hash(state);
        (Arc::as_ptr(&self.plugin) as usize).hash(state);
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct WasmScalar(Identity);

impl ScalarUDFImpl for WasmScalar {
    fn name(&self) -> &str {
        &self.0.spec.name
    }

    fn signature(&self) -> &Signature {
        &self.0.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_arity(&self.0.spec, arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        // A deterministic function of constants is evaluated once, as one row.
        let once = all_scalar && !args.args.is_empty() && self.0.spec.deterministic;
        let n = if once { 1 } else { rows };
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(n))
            .collect::<Result<Vec<_>>>()?;
        let id = &self.0;
        let out = id
            .limits
            .guard(|limits| id.plugin.call(&id.spec, &arrays, n, limits))?;
        let out = as_sql(out, &result_type(&id.spec))?;
        if once {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct WasmAggregate(Identity);

impl AggregateUDFImpl for WasmAggregate {
    fn name(&self) -> &str {
        &self.0.spec.name
    }

    fn signature(&self) -> &Signature {
        &self.0.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_arity(&self.0.spec, arg_types)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[state]", args.name),
            DataType::Binary,
            true,
        ))])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(OneGroup(self.groups()?)))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(self.groups()?))
    }
}

impl WasmAggregate {
    fn groups(&self) -> Result<WasmGroups> {
        let id = &self.0;
        let acc = id
            .plugin
            .accumulator(&id.spec, id.limits.limits())
            .map_err(external)?;
        Ok(WasmGroups {
            acc,
            groups: 0,
            arg_type: id
                .spec
                .args
                .first()
                .map_or(DataType::Int64, convert::arrow_type),
            result: result_type(&id.spec),
        })
    }
}

/// A plugin accumulator seen as DataFusion's groups accumulator.
struct WasmGroups {
    acc: plugin::Accumulator,
    /// Groups currently held (DataFusion's total minus those emitted).
    groups: usize,
    arg_type: DataType,
    result: DataType,
}

impl std::fmt::Debug for WasmGroups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WasmGroups({})", self.groups)
    }
}

fn group_ids(indices: &[usize]) -> Result<Vec<u32>> {
    // Checked first, so that the conversion is a plain loop the compiler vectorizes.
    if indices.iter().any(|&g| g > u32::MAX as usize) {
        return Err(DataFusionError::Execution("too many groups".into()));
    }
    Ok(indices.iter().map(|&g| g as u32).collect())
}

/// The rows a filter keeps (all when there is none), as (values, groups).
fn selected(
    values: &ArrayRef,
    groups: &[usize],
    filter: Option<&BooleanArray>,
) -> Result<(ArrayRef, Vec<u32>)> {
    let Some(filter) = filter else {
        return Ok((values.clone(), group_ids(groups)?));
    };
    let keep: Vec<u32> = (0..groups.len())
        .filter(|&i| filter.is_valid(i) && filter.value(i))
        .map(|i| i as u32)
        .collect();
    let take = UInt32Array::from(keep.clone());
    let values = arrow::compute::take(values.as_ref(), &take, None)?;
    let groups = keep.iter().map(|&i| groups[i as usize]).collect::<Vec<_>>();
    Ok((values, group_ids(&groups)?))
}

impl WasmGroups {
    /// Gives the plugin rows of the groups `groups` (one per row of `arg`).
    /// A call runs on the query's thread and costs a few µs, so each batch
    /// goes as it comes: gathering batches into bigger calls cost more in
    /// copies than it saved.
    fn update(&mut self, arg: &ArrayRef, groups: &[u32]) -> Result<()> {
        self.acc
            .update(groups, self.groups as u32, arg)
            .map_err(external)
    }

    fn emit_count(&mut self, emit_to: EmitTo) -> usize {
        let n = match emit_to {
            EmitTo::All => self.groups,
            EmitTo::First(n) => n.min(self.groups),
        };
        self.groups -= n;
        n
    }
}

impl GroupsAccumulator for WasmGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups = self.groups.max(total_num_groups);
        let [arg] = values else {
            return Err(DataFusionError::Execution("one argument expected".into()));
        };
        let (arg, groups) = selected(arg, group_indices, opt_filter)?;
        self.update(&arg, &groups)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let n = self.emit_count(emit_to);
        as_sql(self.acc.finish(n).map_err(external)?, &self.result)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let n = self.emit_count(emit_to);
        Ok(vec![self.acc.state(n).map_err(external)?])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups = self.groups.max(total_num_groups);
        let [states] = values else {
            return Err(DataFusionError::Execution(
                "one state column expected".into(),
            ));
        };
        self.acc
            .merge(&group_ids(group_indices)?, total_num_groups as u32, states)
            .map_err(external)
    }

    fn convert_to_state(
        &self,
        _values: &[ArrayRef],
        _opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Only asked for when supports_convert_to_state() says yes; it does not.
        Err(DataFusionError::NotImplemented(
            "plugin aggregates skipping partial aggregation".into(),
        ))
    }

    fn size(&self) -> usize {
        // The state lives in the plugin's memory, bounded by its cap.
        std::mem::size_of::<Self>() + self.groups * 16
    }
}

/// An aggregate without GROUP BY: the groups accumulator with group 0.
#[derive(Debug)]
struct OneGroup(WasmGroups);

impl OneGroup {
    /// Puts group 0 back from a state snapshot.
    fn restore(&mut self, snapshot: &ArrayRef) -> Result<()> {
        self.0.groups = 1;
        self.0.acc.merge(&[0], 1, snapshot).map_err(external)
    }

    /// Makes sure the plugin holds group 0, even with no rows seen.
    fn touch(&mut self) -> Result<()> {
        if self.0.groups == 0 {
            let empty = arrow::array::new_empty_array(&self.0.arg_type);
            self.0.update_batch(&[empty], &[], None, 1)?;
        }
        Ok(())
    }
}

impl Accumulator for OneGroup {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let [arg] = values else {
            return Err(DataFusionError::Execution("one argument expected".into()));
        };
        self.0.groups = self.0.groups.max(1);
        // No group ids: the contract's "all rows are group 0".
        self.0.update(arg, &[])
    }

    /// DataFusion may evaluate again after more rows (window frames), so
    /// the group's state is kept: snapshot, finish, restore.
    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.touch()?;
        let snapshot = self.0.acc.state(1).map_err(external)?;
        self.restore(&snapshot)?;
        let out = self.0.evaluate(EmitTo::All)?;
        self.restore(&snapshot)?;
        ScalarValue::try_from_array(&out, 0)
    }

    fn size(&self) -> usize {
        self.0.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.touch()?;
        let out = self.0.state(EmitTo::All)?;
        out.iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let rows = states.first().map_or(0, |v| v.len());
        self.0.merge_batch(states, &vec![0; rows], 1)
    }
}

/// The DataFusion function for `name` of `plugin`, bound to a session's limits.
pub enum Udf {
    Scalar(ScalarUDF),
    Aggregate(AggregateUDF),
}

pub fn udf(plugin: &Arc<Plugin>, spec: &Spec, limits: &Arc<SessionLimits>) -> Udf {
    let id = Identity {
        spec: spec.clone(),
        plugin: plugin.clone(),
        limits: limits.clone(),
        signature: signature(spec),
    };
    if spec.aggregate {
        Udf::Aggregate(AggregateUDF::new_from_impl(WasmAggregate(id)))
    } else {
        Udf::Scalar(ScalarUDF::new_from_impl(WasmScalar(id)))
    }
}
