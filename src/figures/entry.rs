//! Span attributes before they reach the SDK: small `Copy` values under process-lived keys,
//! gathered into a reused buffer and turned into `KeyValue`s only as the SDK takes them.

use opentelemetry::{Key, KeyValue, Value};

use crate::snapshot::catalogue::{Encoding, Kind};

/// An attribute value before it becomes an OTel `Value`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
    Str(&'static str),
}

impl From<Num> for Value {
    fn from(n: Num) -> Value {
        match n {
            Num::Int(v) => Value::I64(v),
            Num::Float(v) => Value::F64(v),
            Num::Str(v) => Value::from(v),
        }
    }
}

/// One attribute: a key that lives for the whole process and its value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) key: &'static Key,
    pub(crate) value: Num,
}

/// The attributes of one span end, appended in order; the rare ones that need an allocated
/// value (a throttled span's reasons) beside them, so the common conversion stays small.
pub(crate) struct Out<'a>(
    pub(crate) &'a mut Vec<Entry>,
    pub(crate) &'a mut Vec<KeyValue>,
);

impl Out<'_> {
    pub(crate) fn put(&mut self, key: &'static Key, value: Num) {
        self.0.push(Entry { key, value });
    }

    /// The clock-event reasons in `bits`, as the array of their names.
    #[cold]
    pub(crate) fn put_reasons(&mut self, key: &'static Key, bits: u64) {
        let names = crate::snapshot::ClockEventReasons(bits)
            .names()
            .map(opentelemetry::StringValue::from)
            .collect();
        self.1.push(KeyValue::new(
            key.clone(),
            Value::Array(opentelemetry::Array::String(names)),
        ));
    }
}

/// A byte count as an attribute (saturating at `i64::MAX`).
pub(crate) fn byte_count(v: u64) -> Num {
    Num::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

/// What a cumulative counter (CPU time, energy) rose by between two readings; `None` when it
/// went backwards (the driver re-initialised, a new cgroup): never a made-up 0.
pub(crate) fn counter_delta(start: f64, end: f64) -> Option<f64> {
    Kind::Counter.change(start, end)
}

/// A catalogue output's value as a span attribute: whole bytes (a change of them signed) and
/// whole numbers as integers.
#[inline]
pub(crate) fn value(encoding: Encoding, v: f64) -> Num {
    if encoding == Encoding::Float {
        Num::Float(v)
    } else {
        Num::Int(v as i64)
    }
}
