//! The M-Pin CS suite. (In progress.)
