//! The one bad-value error every layer shares: `invalid FIELD = VALUE: allowed RANGE`.

use thiserror::Error;

/// A value outside what a parameter allows, named as the user wrote it (the flag without its dashes).
///
/// ```
/// use flowcollapse::invalid::Invalid;
/// let e = Invalid::new("generations", 0, "1 to 1000000");
/// assert_eq!(e.to_string(), "invalid generations = 0: allowed 1 to 1000000");
/// ```
#[derive(Clone, Debug, Error, PartialEq)]
#[error("invalid {field} = {value}: allowed {allowed}")]
pub struct Invalid {
    pub field: &'static str,
    pub value: String,
    pub allowed: String,
}

impl Invalid {
    pub fn new(field: &'static str, value: impl ToString, allowed: impl ToString) -> Self {
        Invalid { field, value: value.to_string(), allowed: allowed.to_string() }
    }
}
