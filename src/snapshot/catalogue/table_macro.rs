//! The table macro: from a table's rows, the enum naming them, the rows themselves, each
//! row's span outputs written row by row, and the compile-time slots (kept in the history,
//! keeping a low's time, folded by a span) with their checks.

/// `Some` of the expression, or `None` without one.
macro_rules! optional {
    () => {
        None
    };
    ($e:expr) => {
        Some($e)
    };
}

/// Defines a table: an enum naming its rows (their positions) and the rows themselves.
macro_rules! catalogue {
    (
        $(#[$meta:meta])*
        enum $enum:ident of $subject:ty, keys $key:ty {
            $(
                $(#[doc = $doc:literal])*
                $row:ident = $name:literal, $kind:ident, $tier:expr, low_at $low:literal,
                    read $read:expr,
                    span [$($out:expr),* $(,)?],
                    metric $metric:expr $(, kept $kept:literal)? $(, histogram $hist:expr)?;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum $enum {
            $( $(#[doc = $doc])* $row, )*
        }

        impl $enum {
            /// Every span output of every row that applies to a span of this set that did (or
            /// did not) observe the figures change, as `emit(key, encoding, value)`, from its
            /// ends (`Start`, `End`, `Delta`) or its statistics (`stat`). Unrolled row by row
            /// at compile time: each reader is called directly, each row's outputs known.
            #[inline]
            pub(crate) fn put_span_outputs(
                ends: (Option<&$subject>, &$subject),
                stat: impl Fn($enum) -> $crate::snapshot::catalogue::Stat,
                (full, observed): (bool, bool),
                mut emit: impl FnMut($key, $crate::snapshot::catalogue::Encoding, f64),
            ) {
                $( {
                    let row = &Self::TABLE[$enum::$row as usize];
                    let read: fn(&$subject) -> Option<f64> = $read;
                    for o in row.span {
                        if (o.full_only && !full) || (o.observed && !observed) {
                            continue;
                        }
                        use $crate::snapshot::catalogue::Statistic;
                        let v = match o.statistic {
                            Statistic::End => read(ends.1),
                            Statistic::Start => ends.0.and_then(read),
                            Statistic::Delta | Statistic::Rise => {
                                match (ends.0.and_then(read), read(ends.1)) {
                                    (Some(s), Some(e)) => row
                                        .kind
                                        .change(s, e)
                                        .filter(|d| o.statistic == Statistic::Delta || *d > 0.0),
                                    _ => None,
                                }
                            }
                            folded => stat($enum::$row).get(folded),
                        };
                        if let Some(v) = v {
                            emit(o.key, o.encoding, v);
                        }
                    }
                } )*
            }

            /// Every row, in table order.
            pub(crate) const ALL: [$enum; [$(stringify!($row)),*].len()] = [$($enum::$row),*];
            /// How many rows.
            pub(crate) const N: usize = Self::ALL.len();
            const TABLE: [Figure<$subject, $key>; Self::N] = [
                $(
                    Figure {
                        name: $name,
                        kind: Kind::$kind,
                        tier: $tier,
                        low_at: $low,
                        read: $read,
                        span: &[$($out),*],
                        metric: $metric,
                        kept: true $(&& $kept)?,
                        histogram: optional!($($hist)?),
                    },
                )*
            ];
            /// How many rows keep their low's time.
            pub(crate) const LOWS: usize = {
                let mut n = 0;
                let mut i = 0;
                while i < Self::N {
                    if Self::TABLE[i].low_at {
                        n += 1;
                    }
                    i += 1;
                }
                n
            };

            /// The row with this name.
            pub(crate) fn named(name: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|f| f.figure().name == name)
            }

            /// This row.
            #[inline]
            pub(crate) fn figure(self) -> &'static Figure<$subject, $key> {
                &Self::TABLE[self as usize]
            }

            /// How many rows the history keeps.
            pub(crate) const KEPT: usize = {
                let mut n = 0;
                let mut i = 0;
                while i < Self::N {
                    let row = &Self::TABLE[i];
                    assert!(
                        row.kept || (!row.folds() && !row.low_at),
                        "a row with span outputs or a low's time must be kept in the history"
                    );
                    if row.kept {
                        n += 1;
                    }
                    i += 1;
                }
                n
            };

            /// Each kept row's position among the kept rows.
            const KEPT_SLOTS: [Option<usize>; Self::N] = {
                let mut slots = [None; Self::N];
                let mut n = 0;
                let mut i = 0;
                while i < Self::N {
                    if Self::TABLE[i].kept {
                        slots[i] = Some(n);
                        n += 1;
                    }
                    i += 1;
                }
                slots
            };

            /// Its position among the rows the history keeps.
            #[inline]
            pub(crate) fn kept_slot(self) -> Option<usize> {
                Self::KEPT_SLOTS[self as usize]
            }

            /// Each row's position among the rows that keep their low's time.
            const LOW_SLOTS: [Option<usize>; Self::N] = {
                let mut slots = [None; Self::N];
                let mut n = 0;
                let mut i = 0;
                while i < Self::N {
                    if Self::TABLE[i].low_at {
                        slots[i] = Some(n);
                        n += 1;
                    }
                    i += 1;
                }
                slots
            };

            /// Its position among the rows that keep their low's time.
            #[inline]
            pub(crate) fn low_slot(self) -> Option<usize> {
                Self::LOW_SLOTS[self as usize]
            }

            /// How many rows a span folds statistics of (a folded span output, or a low's
            /// time): a span's state holds those only, not the rows it never folds.
            pub(crate) const FOLDED: usize = {
                let mut n = 0;
                let mut i = 0;
                while i < Self::N {
                    if Self::TABLE[i].folds() || Self::TABLE[i].low_at {
                        n += 1;
                    }
                    i += 1;
                }
                n
            };

            /// Each row's position among the rows a span folds.
            const FOLD_SLOTS: [Option<usize>; Self::N] = {
                let mut slots = [None; Self::N];
                let mut n = 0;
                let mut i = 0;
                while i < Self::N {
                    if Self::TABLE[i].folds() || Self::TABLE[i].low_at {
                        slots[i] = Some(n);
                        n += 1;
                    }
                    i += 1;
                }
                slots
            };

            /// The rows the history keeps, in slot order: what a pass folds into a bucket,
            /// without visiting the rows it only exports.
            pub(crate) const KEPT_ROWS: [$enum; Self::KEPT] = {
                let mut rows = [Self::ALL[0]; Self::KEPT];
                let mut i = 0;
                while i < Self::N {
                    if let Some(k) = Self::KEPT_SLOTS[i] {
                        rows[k] = Self::ALL[i];
                    }
                    i += 1;
                }
                rows
            };

            /// The rows a span folds, in slot order.
            pub(crate) const FOLDED_ROWS: [$enum; Self::FOLDED] = {
                let mut rows = [Self::ALL[0]; Self::FOLDED];
                let mut i = 0;
                while i < Self::N {
                    if let Some(k) = Self::FOLD_SLOTS[i] {
                        rows[k] = Self::ALL[i];
                    }
                    i += 1;
                }
                rows
            };

            /// Its position among the rows a span folds.
            #[inline]
            pub(crate) fn fold_slot(self) -> Option<usize> {
                Self::FOLD_SLOTS[self as usize]
            }
        }
    };
}
