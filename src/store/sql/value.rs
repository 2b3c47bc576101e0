//! The values that cross the store's SQL boundary, one vocabulary for both
//! backends: every column is an integer, a real, text, bytes or NULL (the
//! PostgreSQL schema uses `BIGINT`, `DOUBLE PRECISION`, `TEXT` and `BYTEA`
//! where SQLite has its storage classes), so a typed query binds and reads
//! the same Rust types on either.

use std::error::Error as StdError;

use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// A bound parameter, borrowed from the caller's arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// SQL NULL.
    Null,
    /// An integer (booleans bind as 0/1, as SQLite stores them).
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(&'a str),
    /// Bytes.
    Blob(&'a [u8]),
}

/// A Rust value that binds as one SQL parameter.
pub trait ToValue {
    /// The parameter this value binds as.
    fn to_value(&self) -> Value<'_>;
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value<'_> {
                Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_to_value!(i64, i32, u32, u16, u8, usize, u64);

impl ToValue for bool {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value<'_> {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value<'_> {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl ToValue for Value<'_> {
    fn to_value(&self) -> Value<'_> {
        *self
    }
}

/// One column of a result row as either backend hands it over: the same
/// five kinds a parameter binds as (PostgreSQL booleans arrive as 0/1).
pub type Cell<'a> = Value<'a>;

impl Value<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Real(_) => "a real",
            Value::Text(_) => "text",
            Value::Blob(_) => "bytes",
        }
    }
}

/// A Rust type a result column converts into. The error is a short
/// description of the mismatch; the caller adds the column.
pub trait FromValue: Sized {
    /// Convert one column.
    fn from_cell(cell: Cell<'_>) -> Result<Self, String>;
}

fn mismatch<T>(want: &str, cell: Cell<'_>) -> Result<T, String> {
    Err(format!("expected {want}, found {}", cell.kind()))
}

impl FromValue for i64 {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Value::Int(i) => Ok(i),
            other => mismatch("an integer", other),
        }
    }
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
                let i = i64::from_cell(cell)?;
                <$t>::try_from(i).map_err(|_| format!("{i} is out of range for {}", stringify!($t)))
            }
        }
    )*};
}
int_from_value!(i32, u32, u16, u8, usize, u64);

impl FromValue for bool {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        i64::from_cell(cell).map(|i| i != 0)
    }
}

impl FromValue for f64 {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Value::Real(f) => Ok(f),
            Value::Int(i) => Ok(i as f64),
            other => mismatch("a number", other),
        }
    }
}

impl FromValue for String {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Value::Text(s) => Ok(s.to_string()),
            other => mismatch("text", other),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Value::Blob(b) => Ok(b.to_vec()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            other => mismatch("bytes", other),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Value::Null => Ok(None),
            other => T::from_cell(other).map(Some),
        }
    }
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(i),
            Value::Real(f) => ValueRef::Real(f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// A SQLite column as a [`Cell`].
pub(super) fn sqlite_cell(value: rusqlite::types::ValueRef<'_>) -> Result<Cell<'_>, String> {
    use rusqlite::types::ValueRef;
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(std::str::from_utf8(t).map_err(|e| e.to_string())?),
        ValueRef::Blob(b) => Value::Blob(b),
    })
}

/// A PostgreSQL column as a [`Cell`], by its declared type. Aggregates
/// that PostgreSQL widens to `NUMERIC` (`sum` of a `BIGINT`) are not
/// decoded: the query casts them back to `BIGINT`.
pub(super) fn pg_cell(row: &postgres::Row, idx: usize) -> Result<Cell<'_>, String> {
    let ty = row
        .columns()
        .get(idx)
        .map(|c| c.type_().clone())
        .ok_or_else(|| format!("no column {idx}"))?;
    let err = |e: postgres::Error| e.to_string();
    let cell = match ty {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(idx)
            .map_err(err)?
            .map(Value::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(idx)
            .map_err(err)?
            .map(|i| Value::Int(i64::from(i))),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(idx)
            .map_err(err)?
            .map(|i| Value::Int(i64::from(i))),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(idx)
            .map_err(err)?
            .map(|b| Value::Int(i64::from(b))),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(idx)
            .map_err(err)?
            .map(Value::Real),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(idx)
            .map_err(err)?
            .map(|f| Value::Real(f64::from(f))),
        Type::BYTEA => row
            .try_get::<_, Option<&[u8]>>(idx)
            .map_err(err)?
            .map(Value::Blob),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => row
            .try_get::<_, Option<&str>>(idx)
            .map_err(err)?
            .map(Value::Text),
        other => {
            return Err(format!(
                "column type {other} is not one the store reads (cast it to BIGINT or TEXT)"
            ));
        }
    };
    Ok(cell.unwrap_or(Value::Null))
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match (*self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Int(i), &Type::INT4) => i32::try_from(i)?.to_sql(ty, out),
            (Value::Int(i), &Type::INT2) => i16::try_from(i)?.to_sql(ty, out),
            (Value::Int(i), &Type::BOOL) => (i != 0).to_sql(ty, out),
            (Value::Int(i), &Type::FLOAT8) => (i as f64).to_sql(ty, out),
            (Value::Int(i), t) if is_text(t) => i.to_string().as_str().to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT8) => f.to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT4) => (f as f32).to_sql(ty, out),
            (Value::Real(f), t) if is_text(t) => f.to_string().as_str().to_sql(ty, out),
            (Value::Text(s), t) if is_text(t) => s.to_sql(ty, out),
            (Value::Text(s), &Type::INT8) => s.parse::<i64>()?.to_sql(ty, out),
            (Value::Blob(b), &Type::BYTEA) => b.to_sql(ty, out),
            (value, ty) => Err(format!("cannot bind {value:?} as PostgreSQL type {ty}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_bind_as_null_and_read_back_as_none() {
        assert_eq!(None::<i64>.to_value(), Value::Null);
        assert_eq!(Some("x").to_value(), Value::Text("x"));
        assert_eq!(Option::<String>::from_cell(Value::Null), Ok(None));
        assert_eq!(i64::from_cell(Value::Int(7)), Ok(7));
        assert!(i64::from_cell(Value::Text("7")).is_err());
        assert_eq!(bool::from_cell(Value::Int(1)), Ok(true));
        assert!(u8::from_cell(Value::Int(300)).is_err());
    }
}
