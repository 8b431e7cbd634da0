//! TLS-level pieces that do not depend on rustls types. (In progress.)
