//! Zone-map pruning: a query's filters, checked against per-column
//! min/max/null counts, skip what cannot hold a matching row (DataFusion's
//! `PruningPredicate` over our zone maps). The units are the blocks of
//! `BLOCK_ROWS` rows where a segment has their zone maps, else the whole
//! segment; rows without any zone map (an open segment's last, unfilled
//! block) are always scanned.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, UInt64Array};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::pruning::PruningStatistics;
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::utils::conjunction;
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use floe_storage::segment::{BLOCK_ROWS, ColumnZone, ZoneValue};
use floe_storage::state::SegmentSnapshot;

/// Which rows of one segment a scan reads.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentScan {
    /// Per block of `BLOCK_ROWS` rows: read it.
    pub blocks: Vec<bool>,
    /// Whether the rows past those blocks are read.
    pub rest: bool,
}

impl SegmentScan {
    const ALL: SegmentScan = SegmentScan {
        blocks: Vec::new(),
        rest: true,
    };

    /// Whether the block holding row `row` is read.
    pub fn reads(&self, row: usize) -> bool {
        self.blocks
            .get(row / BLOCK_ROWS)
            .copied()
            .unwrap_or(self.rest)
    }

    /// Whether any row is read.
    pub fn any(&self) -> bool {
        self.rest || self.blocks.contains(&true)
    }
}

/// One unit pruning decides on: its zone maps and row count.
struct Container<'a> {
    zones: &'a [ColumnZone],
    rows: u64,
}

/// What to read of each of `segments` so that every row matching all of
/// `filters` is read. Filters that cannot be used for pruning read all.
pub fn segments_to_scan(
    state: &dyn Session,
    schema: &SchemaRef,
    segments: &[SegmentSnapshot],
    filters: &[Expr],
) -> Vec<SegmentScan> {
    let all = vec![SegmentScan::ALL; segments.len()];
    let mut containers = Vec::new();
    for s in segments {
        if !s.blocks.is_empty() {
            containers.extend(s.blocks.iter().enumerate().map(|(k, zones)| Container {
                zones,
                rows: (s.rows as usize - k * BLOCK_ROWS).min(BLOCK_ROWS) as u64,
            }));
        } else if let Some(zones) = &s.zones {
            containers.push(Container {
                zones,
                rows: s.rows.into(),
            });
        }
    }
    if filters.is_empty() || containers.is_empty() {
        return all;
    }
    let Some(predicate) = conjunction(filters.iter().cloned()) else {
        return all;
    };
    let keep = (|| -> Result<Vec<bool>> {
        let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
        let expr = state.create_physical_expr(predicate, &df_schema)?;
        let pruning = PruningPredicateBuilder::new()
            .with_file_schema(schema.clone())
            .try_build(expr)?;
        if pruning.always_true() {
            return Ok(vec![true; containers.len()]);
        }
        pruning.prune(&ZoneStats {
            schema,
            containers: &containers,
        })
    })();
    let keep = match keep {
        Ok(keep) if keep.len() == containers.len() => keep,
        Ok(_) => return all,
        Err(e) => {
            tracing::debug!(error = %e, "filters not usable for pruning");
            return all;
        }
    };
    let mut keep = keep.into_iter();
    segments
        .iter()
        .map(|s| {
            if !s.blocks.is_empty() {
                SegmentScan {
                    blocks: keep.by_ref().take(s.blocks.len()).collect(),
                    rest: s.rows as usize > s.blocks.len() * BLOCK_ROWS,
                }
            } else if s.zones.is_some() {
                SegmentScan {
                    blocks: Vec::new(),
                    rest: keep.next().unwrap_or(true),
                }
            } else {
                SegmentScan::ALL
            }
        })
        .collect()
}

struct ZoneStats<'a> {
    schema: &'a Schema,
    containers: &'a [Container<'a>],
}

impl ZoneStats<'_> {
    fn zones(&self, column: &Column) -> Option<(usize, &DataType)> {
        let (i, field) = self.schema.column_with_name(&column.name)?;
        Some((i, field.data_type()))
    }

    /// One value per container from its zone for `column` (NULL where unknown).
    fn values(
        &self,
        column: &Column,
        pick: impl Fn(&ColumnZone) -> Option<&ZoneValue>,
    ) -> Option<ArrayRef> {
        let (i, ty) = self.zones(column)?;
        let values = self.containers.iter().map(|c| {
            c.zones
                .get(i)
                .and_then(&pick)
                .and_then(|v| scalar(v, ty))
                .map_or_else(|| ScalarValue::try_from(ty), Ok)
        });
        let values: Vec<ScalarValue> = values.collect::<Result<_>>().ok()?;
        ScalarValue::iter_to_array(values).ok()
    }
}

/// A zone bound as a value of the column's type, if it maps onto it.
fn scalar(v: &ZoneValue, ty: &DataType) -> Option<ScalarValue> {
    use DataType as T;
    use ZoneValue as Z;
    let s = match (v, ty) {
        (Z::Bool(b), T::Boolean) => ScalarValue::Boolean(Some(*b)),
        (Z::Int(i), T::Int8 | T::Int16 | T::Int32 | T::Int64) => {
            ScalarValue::Int64(Some(*i)).cast_to(ty).ok()?
        }
        (Z::UInt(u), T::UInt8 | T::UInt16 | T::UInt32 | T::UInt64) => {
            ScalarValue::UInt64(Some(*u)).cast_to(ty).ok()?
        }
        (Z::Int(i), T::Date32) => ScalarValue::Date32(Some(i32::try_from(*i).ok()?)),
        (Z::Int(i), T::Timestamp(arrow::datatypes::TimeUnit::Microsecond, tz)) => {
            ScalarValue::TimestampMicrosecond(Some(*i), tz.clone())
        }
        (Z::Int(i), T::Time64(arrow::datatypes::TimeUnit::Microsecond)) => {
            ScalarValue::Time64Microsecond(Some(*i))
        }
        (Z::Float(f), T::Float32) => ScalarValue::Float32(Some(*f as f32)),
        (Z::Float(f), T::Float64) => ScalarValue::Float64(Some(*f)),
        (Z::Decimal(d), T::Decimal128(p, s)) => ScalarValue::Decimal128(Some(*d), *p, *s),
        (Z::Bytes(b), T::Utf8) => ScalarValue::Utf8(Some(String::from_utf8(b.clone()).ok()?)),
        (Z::Bytes(b), T::Binary) => ScalarValue::Binary(Some(b.clone())),
        _ => return None,
    };
    Some(s)
}

impl PruningStatistics for ZoneStats<'_> {
    fn min_values(&self, column: &Column) -> Option<ArrayRef> {
        self.values(column, |z| z.min.as_ref())
    }

    fn max_values(&self, column: &Column) -> Option<ArrayRef> {
        self.values(column, |z| z.max.as_ref())
    }

    fn num_containers(&self) -> usize {
        self.containers.len()
    }

    fn null_counts(&self, column: &Column) -> Option<ArrayRef> {
        let (i, _) = self.zones(column)?;
        let counts: UInt64Array = self
            .containers
            .iter()
            .map(|c| c.zones.get(i).map(|z| z.nulls))
            .collect();
        Some(Arc::new(counts))
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        let rows: UInt64Array = self.containers.iter().map(|c| Some(c.rows)).collect();
        Some(Arc::new(rows))
    }

    fn contained(&self, _column: &Column, _values: &HashSet<ScalarValue>) -> Option<BooleanArray> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, RecordBatch, StringArray};
    use datafusion::prelude::SessionContext;
    use floe_storage::writer::{VolumeWriter, WriterOptions};
    use floe_storage::{ColumnDef, ColumnType, Record, TableDef, Txn, TxnOp, Volume};

    /// Segments of 1000 rows with ids 0..5500: five sealed (with zone maps)
    /// and the open one.
    fn segments() -> (SchemaRef, Vec<SegmentSnapshot>) {
        segments_of(1000, 5500)
    }

    /// Segments of `segment_rows` rows with ids `0..rows`, sealed but for
    /// the last.
    fn segments_of(segment_rows: u32, rows: i64) -> (SchemaRef, Vec<SegmentSnapshot>) {
        let dir = tempfile::tempdir().unwrap();
        let w = VolumeWriter::open(Volume::open(dir.path()).unwrap(), WriterOptions::default())
            .unwrap();
        let mut def = TableDef::new(
            1,
            "t",
            vec![
                ColumnDef::new("id", ColumnType::Int64, false),
                ColumnDef::new("name", ColumnType::Utf8, true),
            ],
        );
        def.segment_rows = segment_rows;
        let schema = def.arrow_schema();
        w.commit(&Record::Ddl(floe_storage::record::Ddl::CreateTable(def)))
            .unwrap();
        let ids = 0..rows;
        let rows = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(ids.clone())),
                Arc::new(StringArray::from_iter(
                    ids.map(|i| (i % 2 == 0).then(|| format!("n{i:05}"))),
                )),
            ],
        )
        .unwrap();
        w.commit(&Record::Txn(Txn {
            ops: vec![TxnOp::Insert { table: 1, rows }],
        }))
        .unwrap();
        w.flush_frozen().unwrap();
        let snap = w.snapshot();
        w.close();
        (schema, snap.tables[&1].segments.clone())
    }

    fn scan(schema: &SchemaRef, segments: &[SegmentSnapshot], sql: &str) -> Vec<SegmentScan> {
        let ctx = SessionContext::new();
        let df_schema = DFSchema::try_from(schema.as_ref().clone()).unwrap();
        let filter = ctx.parse_sql_expr(sql, &df_schema).unwrap();
        segments_to_scan(&ctx.state(), schema, segments, &[filter])
    }

    fn keep(sql: &str) -> Vec<bool> {
        let (schema, segments) = segments();
        scan(&schema, &segments, sql)
            .iter()
            .map(SegmentScan::any)
            .collect()
    }

    #[test]
    fn block_zone_maps_skip_blocks_inside_segments() {
        let b = BLOCK_ROWS as i64;
        // Two sealed segments of four blocks, and an open one with one full
        // block (zone-mapped as it filled) and 100 rows more.
        let (schema, segments) = segments_of(4 * BLOCK_ROWS as u32, 9 * b + 100);
        assert_eq!(segments.len(), 3);
        let (t, f) = (true, false);
        let blocks = |sql: &str| -> Vec<(Vec<bool>, bool)> {
            scan(&schema, &segments, sql)
                .into_iter()
                .map(|s| (s.blocks, s.rest))
                .collect()
        };
        let sql = format!("id >= {} AND id < {}", b + 5, b + 10);
        assert_eq!(
            blocks(&sql),
            [(vec![f, t, f, f], f), (vec![f; 4], f), (vec![f], t)]
        );
        let sql = format!("id = {} OR id = {}", 7 * b, 8 * b + 1);
        assert_eq!(
            blocks(&sql),
            [(vec![f; 4], f), (vec![f, f, f, t], f), (vec![t], t)]
        );
        // Rows past the open segment's last full block are always read.
        let sql = format!("id = {}", 9 * b + 50);
        let scans = scan(&schema, &segments, &sql);
        assert_eq!(
            scans.iter().map(SegmentScan::any).collect::<Vec<_>>(),
            [f, f, t]
        );
        assert!(!scans[2].reads(0) && scans[2].reads(BLOCK_ROWS + 50));
    }

    #[test]
    fn zone_maps_skip_segments_that_cannot_match() {
        let t = true;
        let f = false;
        assert_eq!(keep("id >= 2500 AND id < 2600"), [f, f, t, f, f, t]);
        assert_eq!(keep("id = 999 OR id = 4000"), [t, f, f, f, t, t]);
        assert_eq!(keep("name = 'n03002'"), [f, f, f, t, f, t]);
        assert_eq!(keep("id > 100000"), [f, f, f, f, f, t]);
        // What zone maps cannot decide keeps every segment.
        assert_eq!(keep("id % 7 = 3"), [t; 6]);
        assert_eq!(keep("name IS NULL"), [t; 6]);
    }
}
