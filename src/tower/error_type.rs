//! `error.type` for an inner service's error, as the HTTP conventions want it: low-cardinality
//! and meaningful. tower's timeout is `timeout`; an error of a known, concrete type is that
//! type's full name; anything else (a boxed error of unknown type) is `_OTHER`.

use std::any::Any;
use std::error::Error;

/// tower's `BoxError`, the error type of most tower stacks.
type BoxError = Box<dyn Error + Send + Sync>;

/// The name of a known error type, for a `&dyn Any` or a `&dyn Error` (both have `is`).
macro_rules! known {
    ($error:expr) => {
        if $error.is::<tower::timeout::error::Elapsed>() {
            Some("timeout")
        } else if $error.is::<std::io::Error>() {
            Some("std::io::Error")
        } else {
            None
        }
    };
}

pub(crate) fn of<E: 'static>(error: &E) -> &'static str {
    let any: &dyn Any = error;
    if let Some(boxed) = any.downcast_ref::<BoxError>() {
        let inner: &(dyn Error + 'static) = boxed.as_ref();
        return known!(inner).unwrap_or("_OTHER");
    }
    if let Some(known) = known!(any) {
        return known;
    }
    let name = std::any::type_name::<E>();
    // A generic or trait-object type has no stable, bounded name.
    if name.contains(['<', '>', ' ']) {
        "_OTHER"
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct AppError;

    #[test]
    fn bounded_meaningful_names() {
        let elapsed: BoxError = Box::new(tower::timeout::error::Elapsed::new());
        assert_eq!(of(&elapsed), "timeout");
        assert_eq!(of(&tower::timeout::error::Elapsed::new()), "timeout");
        let io = std::io::Error::other("disk");
        assert_eq!(of(&io), "std::io::Error");
        let boxed_io: BoxError = Box::new(std::io::Error::other("disk"));
        assert_eq!(of(&boxed_io), "std::io::Error");
        let unknown: BoxError = "a string error".into();
        assert_eq!(of(&unknown), "_OTHER");
        assert_eq!(
            of(&AppError),
            "otel_resmon::tower::error_type::tests::AppError"
        );
        assert_eq!(of(&vec![AppError]), "_OTHER");
    }
}
