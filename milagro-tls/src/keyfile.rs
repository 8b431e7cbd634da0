//! PEM key files for every key kind. (In progress.)
