//! MySQL's scalar functions where DataFusion has none or answers
//! differently (CONCAT with a NULL is NULL, LENGTH counts bytes, `/` on
//! integers is DECIMAL, DATE_FORMAT's letters...). Each works on whole
//! arrays; [`super::compat`] rewrites MySQL-only syntax onto them.

mod num;
mod text;
mod time;

use std::hash::{Hash, Hasher};
use std::ops::RangeInclusive;
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{ScalarValue, plan_err};

use crate::mysql::resultset::META_DECIMALS;
use datafusion::error::Result;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TypeSignature, Volatility,
};

/// The start of the message DataFusion errors carry for a wrong argument
/// count (mapped to MySQL's 1582 at the protocol edge).
pub const WRONG_ARG_COUNT: &str = "Incorrect parameter count in the call to native function";

/// What a function's evaluation sees: its arguments as arrays of `rows`
/// values (scalars expanded), their types, and the return type.
pub struct Call<'a> {
    pub args: &'a [ArrayRef],
    /// The arguments that were constants, as given.
    pub consts: &'a [Option<ScalarValue>],
    pub rows: usize,
    pub ret: &'a DataType,
}

impl Call<'_> {
    /// Argument `i` when it is a constant string (a format, a unit).
    pub fn const_str(&self, i: usize) -> Option<&str> {
        match self.consts.get(i)?.as_ref()? {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)) => Some(s),
            _ => None,
        }
    }
}

type ReturnFn = fn(&[DataType], &[Option<&ScalarValue>]) -> Result<DataType>;
type EvalFn = fn(&Call) -> Result<ArrayRef>;
/// The decimals a result column declares (MySQL prints a DOUBLE with them).
type DecimalsFn = fn(&[Option<&ScalarValue>]) -> Option<u8>;
/// Folds a call into a constant at planning time (NOW() is one value per statement).
type FoldFn = fn(&SimplifyContext) -> Option<ScalarValue>;

/// One MySQL function.
#[derive(Debug)]
pub struct MySqlFn {
    name: &'static str,
    aliases: Vec<String>,
    arity: RangeInclusive<usize>,
    signature: Signature,
    ret: ReturnFn,
    eval: EvalFn,
    fold: Option<FoldFn>,
    decimals: Option<DecimalsFn>,
}

impl MySqlFn {
    fn new(name: &'static str, arity: RangeInclusive<usize>, ret: ReturnFn, eval: EvalFn) -> Self {
        let signature = Signature::one_of(
            vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
            Volatility::Immutable,
        );
        MySqlFn {
            name,
            aliases: Vec::new(),
            arity,
            signature,
            ret,
            eval,
            fold: None,
            decimals: None,
        }
    }

    fn aliases(mut self, names: &[&str]) -> Self {
        self.aliases = names.iter().map(|n| n.to_string()).collect();
        self
    }

    fn decimals(mut self, f: DecimalsFn) -> Self {
        self.decimals = Some(f);
        self
    }

    /// A function of the statement's start time (NOW(), CURDATE()...):
    /// folded into one constant per statement when planned. Volatile, so
    /// that plan-time evaluation does not call it once per occurrence first.
    fn folded(mut self, fold: FoldFn) -> Self {
        self.fold = Some(fold);
        self.signature = Signature::one_of(
            vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
            Volatility::Volatile,
        );
        self
    }
}

impl PartialEq for MySqlFn {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for MySqlFn {}

impl Hash for MySqlFn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for MySqlFn {
    fn name(&self) -> &str {
        self.name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.check_arity(arg_types.len())?;
        (self.ret)(arg_types, &vec![None; arg_types.len()])
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.check_arity(args.arg_fields.len())?;
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let ty = (self.ret)(&types, args.scalar_arguments)?;
        let mut field = Field::new(self.name, ty, true);
        if let Some(d) = self.decimals.and_then(|f| f(args.scalar_arguments)) {
            field = field.with_metadata(
                [(META_DECIMALS.to_string(), d.to_string())]
                    .into_iter()
                    .collect(),
            );
        }
        Ok(Arc::new(field))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { args.number_rows };
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let consts: Vec<Option<ScalarValue>> = args
            .args
            .iter()
            .map(|a| match a {
                ColumnarValue::Scalar(v) => Some(v.clone()),
                ColumnarValue::Array(_) => None,
            })
            .collect();
        let out = (self.eval)(&Call {
            args: &arrays,
            consts: &consts,
            rows,
            ret: args.return_field.data_type(),
        })?;
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        match self.fold.filter(|_| args.is_empty()).and_then(|f| f(info)) {
            Some(v) => Ok(ExprSimplifyResult::Simplified(Expr::Literal(v, None))),
            None => Ok(ExprSimplifyResult::Original(args)),
        }
    }
}

impl MySqlFn {
    fn check_arity(&self, n: usize) -> Result<()> {
        if self.arity.contains(&n) {
            Ok(())
        } else {
            plan_err!("{WRONG_ARG_COUNT} '{}'", self.name.to_ascii_uppercase())
        }
    }
}

/// Registers every MySQL function on a session (replacing DataFusion's
/// functions of the same name).
pub fn register(ctx: &SessionContext) {
    for f in time::functions()
        .into_iter()
        .chain(text::functions())
        .chain(num::functions())
    {
        ctx.register_udf(ScalarUDF::new_from_impl(f));
    }
}

/// Every argument is a string or NULL literal? (For return types that
/// depend on a literal, like STR_TO_DATE's format.)
fn literal_str<'a>(scalars: &[Option<&'a ScalarValue>], i: usize) -> Option<&'a str> {
    match scalars.get(i).copied().flatten()? {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// Whether a type is an exact number (integer or DECIMAL).
fn is_exact(t: &DataType) -> bool {
    t.is_integer()
        || matches!(
            t,
            DataType::Decimal128(..) | DataType::Null | DataType::Boolean
        )
}
