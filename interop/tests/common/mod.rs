//! Shared test helpers: the data-file reader.
#![allow(dead_code)]

use std::collections::BTreeMap;

/// A vector file: its header fields (before the first `msg`) and its records
/// (each starting at a `msg` line). `#` lines are comments.
pub(crate) struct VectorFile {
    pub(crate) header: BTreeMap<String, String>,
    pub(crate) records: Vec<BTreeMap<String, String>>,
}

pub(crate) fn read_vectors(name: &str) -> VectorFile {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut header = BTreeMap::new();
    let mut records: Vec<BTreeMap<String, String>> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (k, v) = line
            .split_once(" = ")
            .or_else(|| line.strip_suffix(" =").map(|k| (k, "")))
            .unwrap_or_else(|| panic!("{path}: bad line {line:?}"));
        if k == "msg" {
            records.push(BTreeMap::new());
        }
        match records.last_mut() {
            Some(r) => r.insert(k.to_string(), v.to_string()),
            None => header.insert(k.to_string(), v.to_string()),
        };
    }
    VectorFile { header, records }
}

pub(crate) fn hex48(s: &str) -> [u8; 48] {
    hex::decode(s).expect("hex").try_into().expect("48 bytes")
}
