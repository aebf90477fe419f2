//! The classifier never panics, whatever it is fed.
