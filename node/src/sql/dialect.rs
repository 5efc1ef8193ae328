//! The SQL dialect floe parses: sqlparser's MySQL dialect with `DIV` bound
//! as tightly as `*`, `/` and `%`, and left-associative, as in MySQL.
//!
//! sqlparser's MySQL dialect parses the right side of `DIV` as a whole
//! expression, so `d DIV 15 * 15` becomes `d DIV (15 * 15)` and
//! `d DIV 2 = 1` becomes `d DIV (2 = 1)`. Everything else is MySqlDialect's:
//! [`Dialect::dialect`] reports its type, so the parser's MySQL-only paths
//! stay on, and each setting MySqlDialect changes is passed through.

use std::any::TypeId;

use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr, Statement};
use datafusion::sql::sqlparser::dialect::{Dialect, MySqlDialect, Precedence};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};

#[derive(Debug, Default)]
pub struct FloeDialect(MySqlDialect);

/// Settings MySqlDialect overrides, passed through unchanged.
macro_rules! pass_through {
    ($($name:ident),* $(,)?) => {
        $(fn $name(&self) -> bool {
            self.0.$name()
        })*
    };
}

impl Dialect for FloeDialect {
    fn dialect(&self) -> TypeId {
        TypeId::of::<MySqlDialect>()
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        self.0.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        self.0.is_identifier_part(ch)
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.0.is_delimited_identifier_start(ch)
    }

    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.0.identifier_quote_style(identifier)
    }

    fn is_table_factor_alias(&self, explicit: bool, kw: &Keyword, parser: &mut Parser) -> bool {
        self.0.is_table_factor_alias(explicit, kw, parser)
    }

    fn parse_statement(&self, parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
        self.0.parse_statement(parser)
    }

    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        _precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        if !parser.parse_keyword(Keyword::DIV) {
            return None;
        }
        // Only what binds tighter than `DIV` is its divisor.
        let right = match parser.parse_subexpr(self.prec_value(Precedence::MulDivModOp)) {
            Ok(e) => e,
            Err(e) => return Some(Err(e)),
        };
        Some(Ok(Expr::BinaryOp {
            left: Box::new(expr.clone()),
            op: BinaryOperator::MyIntegerDivide,
            right: Box::new(right),
        }))
    }

    pass_through!(
        supports_string_literal_backslash_escape,
        supports_string_literal_concatenation,
        ignores_wildcard_escapes,
        supports_numeric_prefix,
        supports_bitwise_shift_operators,
        supports_multiline_comment_hints,
        require_interval_qualifier,
        supports_limit_comma,
        supports_create_table_select,
        supports_insert_set,
        supports_user_host_grantee,
        supports_table_hints,
        requires_single_line_comment_whitespace,
        supports_match_against,
        supports_select_modifiers,
        supports_set_names,
        supports_comma_separated_set_assignments,
        supports_update_order_by,
        supports_data_type_signed_suffix,
        supports_cross_join_constraint,
        supports_double_ampersand_operator,
        supports_binary_kw_as_cast,
        supports_comment_optimizer_hint,
        supports_constraint_keyword_without_name,
        supports_key_column_option,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::ast::{SelectItem, SetExpr};

    fn parsed(sql: &str) -> String {
        Parser::parse_sql(&FloeDialect::default(), sql)
            .expect("parses")
            .remove(0)
            .to_string()
    }

    /// The root operator of the first select item and of its left side.
    fn ops(sql: &str) -> (BinaryOperator, Option<BinaryOperator>) {
        let Statement::Query(q) = Parser::parse_sql(&FloeDialect::default(), sql)
            .expect("parses")
            .remove(0)
        else {
            panic!("not a query: {sql}");
        };
        let SetExpr::Select(s) = *q.body else {
            panic!("not a select: {sql}");
        };
        let SelectItem::UnnamedExpr(Expr::BinaryOp { left, op, .. }) = &s.projection[0] else {
            panic!("not an operator: {sql}");
        };
        let left_op = match left.as_ref() {
            Expr::BinaryOp { op, .. } => Some(op.clone()),
            _ => None,
        };
        (op.clone(), left_op)
    }

    #[test]
    fn div_binds_like_multiplication() {
        use BinaryOperator::*;
        let cases = [
            ("SELECT d DIV 15 * 15", (Multiply, Some(MyIntegerDivide))),
            ("SELECT d DIV (15 * 15)", (MyIntegerDivide, None)),
            ("SELECT d * 2 DIV 3", (MyIntegerDivide, Some(Multiply))),
            ("SELECT d DIV 2 + 1", (Plus, Some(MyIntegerDivide))),
            ("SELECT d DIV 2 = 1", (Eq, Some(MyIntegerDivide))),
            (
                "SELECT d DIV 2 DIV 3",
                (MyIntegerDivide, Some(MyIntegerDivide)),
            ),
        ];
        for (sql, want) in cases {
            assert_eq!(ops(sql), want, "{sql}");
        }
        assert_eq!(parsed("SELECT d DIV 15 * 15"), "SELECT d DIV 15 * 15");
    }

    #[test]
    fn mysql_syntax_still_parses() {
        for sql in [
            "LOCK TABLES `t` WRITE",
            "SELECT `a` FROM t LIMIT 1, 2",
            "SELECT 'a\\'b'",
            "INSERT INTO t SET a = 1",
            "SELECT 1 << 2",
        ] {
            parsed(sql);
        }
    }
}
