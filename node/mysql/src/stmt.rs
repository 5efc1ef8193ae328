//! Prepared statements on the wire: COM_STMT_EXECUTE parameters (binary
//! values typed by the client) and COM_STMT_SEND_LONG_DATA pieces.

use std::collections::HashMap;

use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::io::ParseBuf;
use mysql_common::value::{BinValue, Value, ValueDeserializer};

use super::error::SqlError;
use super::resultset::ColumnMeta;

pub struct Statement<P> {
    pub prepared: P,
    /// Parameter definitions (only their number matters when binding).
    pub params: Vec<ColumnMeta>,
    /// Parameter types as last bound by the client (they persist across executions).
    pub types: Vec<(ColumnType, ColumnFlags)>,
    pub long_data: HashMap<u16, Vec<u8>>,
}

/// Types a client may bind; mysql_common cannot decode the others (and panics on some).
fn bindable(t: u8) -> Option<ColumnType> {
    use ColumnType::*;
    let ty = ColumnType::try_from(t).ok()?;
    matches!(
        ty,
        MYSQL_TYPE_DECIMAL
            | MYSQL_TYPE_TINY
            | MYSQL_TYPE_SHORT
            | MYSQL_TYPE_LONG
            | MYSQL_TYPE_FLOAT
            | MYSQL_TYPE_DOUBLE
            | MYSQL_TYPE_NULL
            | MYSQL_TYPE_TIMESTAMP
            | MYSQL_TYPE_LONGLONG
            | MYSQL_TYPE_INT24
            | MYSQL_TYPE_DATE
            | MYSQL_TYPE_TIME
            | MYSQL_TYPE_DATETIME
            | MYSQL_TYPE_YEAR
            | MYSQL_TYPE_VARCHAR
            | MYSQL_TYPE_BIT
            | MYSQL_TYPE_JSON
            | MYSQL_TYPE_NEWDECIMAL
            | MYSQL_TYPE_ENUM
            | MYSQL_TYPE_SET
            | MYSQL_TYPE_TINY_BLOB
            | MYSQL_TYPE_MEDIUM_BLOB
            | MYSQL_TYPE_LONG_BLOB
            | MYSQL_TYPE_BLOB
            | MYSQL_TYPE_VAR_STRING
            | MYSQL_TYPE_STRING
    )
    .then_some(ty)
}

impl<P> Statement<P> {
    pub fn new(prepared: P, params: Vec<ColumnMeta>) -> Self {
        Statement {
            prepared,
            params,
            types: Vec::new(),
            long_data: HashMap::new(),
        }
    }

    /// Decodes the parameters of a COM_STMT_EXECUTE whose body (after the
    /// statement id) is `body`.
    pub fn bind(&mut self, body: &[u8]) -> Result<Vec<Value>, SqlError> {
        let bad = || SqlError::wrong_arguments("mysqld_stmt_execute");
        let n = self.params.len();
        let mut buf = ParseBuf(body);
        // flags (cursor type) and iteration count: we always return rows directly.
        buf.checked_eat(5).ok_or_else(bad)?;
        if n == 0 {
            return Ok(Vec::new());
        }
        let nulls = buf.checked_eat(n.div_ceil(8)).ok_or_else(bad)?;
        let bound = buf.checked_eat_u8().ok_or_else(bad)?;
        if bound == 1 {
            self.types.clear();
            for _ in 0..n {
                let t = buf.checked_eat_u8().ok_or_else(bad)?;
                let f = buf.checked_eat_u8().ok_or_else(bad)?;
                let ty = bindable(t).ok_or_else(bad)?;
                let flags = if f & 0x80 != 0 {
                    ColumnFlags::UNSIGNED_FLAG
                } else {
                    ColumnFlags::empty()
                };
                self.types.push((ty, flags));
            }
        }
        if self.types.len() != n {
            return Err(bad());
        }
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            if nulls[i / 8] & (1 << (i % 8)) != 0 {
                values.push(Value::NULL);
                continue;
            }
            if let Some(data) = self.long_data.remove(&(i as u16)) {
                values.push(Value::Bytes(data));
                continue;
            }
            let (ty, flags) = self.types[i];
            let v: ValueDeserializer<BinValue> = buf.parse((ty, flags)).map_err(|_| bad())?;
            values.push(v.0);
        }
        self.long_data.clear();
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(params: usize) -> Statement<()> {
        Statement::new(
            (),
            (0..params)
                .map(|i| ColumnMeta::new(format!("?{i}"), ColumnType::MYSQL_TYPE_VAR_STRING))
                .collect(),
        )
    }

    #[test]
    fn binds_typed_parameters_and_rejects_garbage() {
        let mut s = stmt(3);
        let mut body = vec![0, 1, 0, 0, 0]; // flags, iterations
        body.push(0b010); // second parameter NULL
        body.push(1);
        body.extend_from_slice(&[8, 0, 6, 0, 253, 0]); // LONGLONG, NULL, VAR_STRING
        body.extend_from_slice(&(-5i64).to_le_bytes());
        body.extend_from_slice(&[3, b'a', b'b', b'c']);
        let v = s.bind(&body).unwrap();
        assert_eq!(
            v,
            vec![Value::Int(-5), Value::NULL, Value::Bytes(b"abc".to_vec())]
        );
        for cut in 0..body.len() - 1 {
            assert!(s.bind(&body[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad_type = body.clone();
        bad_type[7] = 0x12; // DATETIME2: mysql_common would panic
        assert!(s.bind(&bad_type).is_err());
    }
}
