//! Table definitions as storage sees them: named, typed Arrow columns plus
//! an opaque blob in which the SQL layer keeps what only it understands
//! (keys, defaults, auto-increment, comments).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};

pub type TableId = u64;
pub type SegmentId = u64;

/// The column types a segment can hold (the SQL layer maps MySQL types onto them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ColumnType {
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    Decimal128 {
        precision: u8,
        scale: i8,
    },
    Utf8,
    Binary,
    Date32,
    /// Microseconds since the epoch, no time zone.
    TimestampMicros,
    /// A signed duration in microseconds (MySQL TIME).
    TimeMicros,
}

impl ColumnType {
    pub fn data_type(self) -> DataType {
        match self {
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::Int8 => DataType::Int8,
            ColumnType::Int16 => DataType::Int16,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::UInt8 => DataType::UInt8,
            ColumnType::UInt16 => DataType::UInt16,
            ColumnType::UInt32 => DataType::UInt32,
            ColumnType::UInt64 => DataType::UInt64,
            ColumnType::Float32 => DataType::Float32,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Decimal128 { precision, scale } => DataType::Decimal128(precision, scale),
            ColumnType::Utf8 => DataType::Utf8,
            ColumnType::Binary => DataType::Binary,
            ColumnType::Date32 => DataType::Date32,
            ColumnType::TimestampMicros => DataType::Timestamp(TimeUnit::Microsecond, None),
            ColumnType::TimeMicros => DataType::Time64(TimeUnit::Microsecond),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    pub ty: ColumnType,
    pub nullable: bool,
}

impl ColumnDef {
    pub fn new(name: impl Into<String>, ty: ColumnType, nullable: bool) -> Self {
        ColumnDef {
            name: name.into(),
            ty,
            nullable,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    pub id: TableId,
    /// Unique among live tables; storage does not interpret it.
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Rows per segment: the open segment is frozen when it reaches this.
    pub segment_rows: u32,
    /// The SQL layer's own description of the table.
    #[serde(default)]
    pub meta: Vec<u8>,
}

pub const DEFAULT_SEGMENT_ROWS: u32 = 1 << 20;

impl TableDef {
    pub fn new(id: TableId, name: impl Into<String>, columns: Vec<ColumnDef>) -> Self {
        TableDef {
            id,
            name: name.into(),
            columns,
            segment_rows: DEFAULT_SEGMENT_ROWS,
            meta: Vec::new(),
        }
    }

    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(&c.name, c.ty.data_type(), c.nullable))
                .collect::<Vec<_>>(),
        ))
    }
}
