//! The D-TA's state in SQLite: enrolments (hashed tickets and renewal
//! credentials), revocations, and the hash-chained, append-only audit log.
//!
//! Nothing secret is stored: tickets and renewal credentials are 256-bit
//! random values kept only as their SHA-256 hash (a database thief cannot
//! present them), and the master share lives in its own file.
//!
//! # The audit chain
//!
//! Entry `k` stores `hash_k = SHA-256("milagro-dta audit v1" ‖ hash_{k−1} ‖
//! be64(seq) ‖ be64(at) ‖ each text field length-prefixed)`, with
//! `hash_0 = 32 zero bytes`, and sequence numbers run from 1 without gaps.
//! [`verify_chain`] recomputes every hash, so an edited, inserted or deleted
//! entry breaks the chain at that entry. Removing entries from the *end*
//! leaves a shorter valid chain: compare the head with a previously recorded
//! one (`milagro-dta audit verify --head HEX`). SQLite triggers also refuse
//! UPDATE and DELETE on the log, against mistakes rather than attackers.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

use crate::api::{AuditEntry, EnrolmentRecord, Role};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database belongs to another D-TA or deployment.
    #[error("this database belongs to D-TA {found}; the master share is D-TA {expected}")]
    OtherDta {
        /// The master share's D-TA and deployment.
        expected: String,
        /// The database's.
        found: String,
    },
    /// A stored value is malformed (the database was edited by hand).
    #[error("database: malformed row: {0}")]
    Malformed(String),
}

/// Where the audit chain breaks.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A sequence number is missing or out of order.
    #[error("audit entry {found} follows entry {previous}: an entry was deleted or inserted")]
    Gap {
        /// The previous entry's sequence number.
        previous: u64,
        /// The entry found.
        found: u64,
    },
    /// An entry's `prev` is not the previous entry's hash.
    #[error(
        "audit entry {0}: its link to the previous entry is wrong: an entry was deleted, inserted or altered"
    )]
    BadLink(u64),
    /// An entry's hash does not match its contents.
    #[error("audit entry {0}: its contents do not match its hash: the entry was altered")]
    BadHash(u64),
    /// The chain does not contain the expected head.
    #[error("the log does not end with the recorded head {0}: entries were removed from its end")]
    HeadMissing(String),
    /// SQLite failed while reading (shared: a SQLite error is not `Clone`).
    #[error("database: {0}")]
    Sqlite(std::sync::Arc<rusqlite::Error>),
}

/// The state of an enrolment as seen by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The row id.
    pub id: i64,
    /// The canonical identity.
    pub identity: String,
    /// The role.
    pub role: Role,
    /// Ticket expiry.
    pub expires_at: u64,
    /// When the ticket was used, if it was.
    pub used_at: Option<u64>,
}

/// One event to append to the audit log.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// When.
    pub at: u64,
    /// Source address or `local`.
    pub source: &'a str,
    /// What was asked.
    pub event: &'a str,
    /// `ok` or a refusal code.
    pub outcome: &'a str,
    /// The identity concerned.
    pub identity: Option<&'a str>,
    /// Details (kind, day, epoch).
    pub detail: &'a str,
}

/// SHA-256 of a secret token (ticket, credential, operator token).
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS enrolments (
  id INTEGER PRIMARY KEY,
  identity TEXT NOT NULL,
  role TEXT NOT NULL,
  ticket_hash BLOB NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  credential_hash BLOB UNIQUE
);
CREATE INDEX IF NOT EXISTS enrolments_identity ON enrolments(identity);
CREATE TABLE IF NOT EXISTS revocations (
  identity TEXT PRIMARY KEY,
  revoked_at INTEGER NOT NULL,
  reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  source TEXT NOT NULL,
  event TEXT NOT NULL,
  outcome TEXT NOT NULL,
  identity TEXT,
  detail TEXT NOT NULL,
  prev BLOB NOT NULL,
  hash BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";

/// The D-TA's database.
pub struct Store {
    conn: Connection,
}

impl core::fmt::Debug for Store {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    /// Opens (creating if needed) the database at `path` for the D-TA
    /// `owner` (its `deployment/dta` string). Refuses a database created for
    /// another D-TA. The file is created with mode 0600.
    pub fn open(path: &Path, owner: &str) -> Result<Self, StoreError> {
        #[cfg(unix)]
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            // Create it 0600 before SQLite does (SQLite would use the umask).
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path);
        }
        let conn = Connection::open(path)?;
        Self::init(conn, owner)
    }

    /// An in-memory database (tests).
    pub fn in_memory(owner: &str) -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?, owner)
    }

    fn init(conn: Connection, owner: &str) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        let found: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'owner'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match found {
            Some(found) if found != owner => {
                return Err(StoreError::OtherDta {
                    expected: owner.to_owned(),
                    found,
                });
            }
            Some(_) => {}
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('owner', ?1)",
                    params![owner],
                )?;
            }
        }
        Ok(Self { conn })
    }

    /// Runs `f` in one immediate transaction (committed if `f` returns Ok).
    pub fn transaction<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let value = f(&tx)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Appends an event in its own transaction.
    pub fn audit(&mut self, event: &Event<'_>) -> Result<(), StoreError> {
        self.transaction(|tx| append(tx, event))
    }

    /// Audit entries with `seq > after`, at most `limit`, and the head hash.
    pub fn audit_page(
        &self,
        after: u64,
        limit: u64,
    ) -> Result<(Vec<AuditEntry>, String), StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, at, source, event, outcome, identity, detail, prev, hash
             FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![i(after), i(limit)], row_entry)?;
        let entries = rows.collect::<Result<Vec<_>, _>>()?;
        let head = head(&self.conn)?;
        Ok((entries, hex::encode(head)))
    }

    /// Every enrolment, newest first, with the revocation state.
    pub fn list(&self, now: u64) -> Result<Vec<EnrolmentRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT e.identity, e.role, e.created_at, e.expires_at, e.used_at,
                    r.identity IS NOT NULL
             FROM enrolments e LEFT JOIN revocations r ON r.identity = e.identity
             ORDER BY e.id DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            let used_at: Option<i64> = r.get(4)?;
            let expires_at = u(r.get(3)?);
            let role: String = r.get(1)?;
            Ok((
                r.get::<_, String>(0)?,
                role,
                u(r.get(2)?),
                expires_at,
                used_at.map(u),
                r.get::<_, bool>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (identity, role, created_at, expires_at, used_at, revoked) = row?;
            let role = Role::parse(&role).ok_or_else(|| StoreError::Malformed(role.clone()))?;
            let state = if used_at.is_some() {
                "enrolled"
            } else if now >= expires_at {
                "expired"
            } else {
                "pending"
            };
            out.push(EnrolmentRecord {
                identity,
                role,
                state: state.into(),
                created_at,
                expires_at,
                used_at,
                revoked,
            });
        }
        Ok(out)
    }

    /// Verifies the whole audit chain (see the module documentation); with
    /// `expected_head`, also that the log contains that head (detects a
    /// truncated end). Returns the number of entries and the head.
    pub fn verify_chain(&self, expected_head: Option<&str>) -> Result<(u64, String), ChainError> {
        verify_chain(&self.conn, expected_head)
    }
}

/// Inserts an enrolment with a hashed ticket.
pub fn insert_enrolment(
    tx: &Transaction<'_>,
    identity: &str,
    role: Role,
    ticket_hash: &[u8; 32],
    now: u64,
    expires_at: u64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO enrolments (identity, role, ticket_hash, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            identity,
            role.as_str(),
            &ticket_hash[..],
            i(now),
            i(expires_at)
        ],
    )?;
    Ok(())
}

fn enrolment_row(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(i64, String, String, i64, Option<i64>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn to_enrolment(row: (i64, String, String, i64, Option<i64>)) -> Result<Enrolment, StoreError> {
    let (id, identity, role, expires_at, used_at) = row;
    let role = Role::parse(&role).ok_or_else(|| StoreError::Malformed(role.clone()))?;
    Ok(Enrolment {
        id,
        identity,
        role,
        expires_at: u(expires_at),
        used_at: used_at.map(u),
    })
}

/// The enrolment whose ticket hashes to `ticket_hash`.
pub fn enrolment_by_ticket(
    tx: &Transaction<'_>,
    ticket_hash: &[u8; 32],
) -> Result<Option<Enrolment>, StoreError> {
    tx.query_row(
        "SELECT id, identity, role, expires_at, used_at FROM enrolments WHERE ticket_hash = ?1",
        params![&ticket_hash[..]],
        enrolment_row,
    )
    .optional()?
    .map(to_enrolment)
    .transpose()
}

/// The enrolment whose renewal credential hashes to `credential_hash`.
pub fn enrolment_by_credential(
    tx: &Transaction<'_>,
    credential_hash: &[u8; 32],
) -> Result<Option<Enrolment>, StoreError> {
    tx.query_row(
        "SELECT id, identity, role, expires_at, used_at FROM enrolments WHERE credential_hash = ?1",
        params![&credential_hash[..]],
        enrolment_row,
    )
    .optional()?
    .map(to_enrolment)
    .transpose()
}

/// Marks a pending ticket used and stores the credential hash. Returns
/// false if the ticket was used meanwhile (it never is: one transaction).
pub fn consume_ticket(
    tx: &Transaction<'_>,
    id: i64,
    credential_hash: &[u8; 32],
    now: u64,
) -> Result<bool, StoreError> {
    let n = tx.execute(
        "UPDATE enrolments SET used_at = ?1, credential_hash = ?2 WHERE id = ?3 AND used_at IS NULL",
        params![i(now), &credential_hash[..], id],
    )?;
    Ok(n == 1)
}

/// Whether `identity` is revoked.
pub fn is_revoked(tx: &Transaction<'_>, identity: &str) -> Result<bool, StoreError> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM revocations WHERE identity = ?1",
            params![identity],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Revokes `identity` (idempotent: keeps the first revocation time).
/// Returns the revocation time.
pub fn revoke(
    tx: &Transaction<'_>,
    identity: &str,
    reason: &str,
    now: u64,
) -> Result<u64, StoreError> {
    tx.execute(
        "INSERT OR IGNORE INTO revocations (identity, revoked_at, reason) VALUES (?1, ?2, ?3)",
        params![identity, i(now), reason],
    )?;
    let at: i64 = tx.query_row(
        "SELECT revoked_at FROM revocations WHERE identity = ?1",
        params![identity],
        |r| r.get(0),
    )?;
    Ok(u(at))
}

fn head(conn: &Connection) -> Result<[u8; 32], StoreError> {
    let h: Option<Vec<u8>> = conn
        .query_row(
            "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    match h {
        None => Ok([0; 32]),
        Some(h) => <[u8; 32]>::try_from(h.as_slice())
            .map_err(|_| StoreError::Malformed("audit hash".into())),
    }
}

fn last_seq(conn: &Connection) -> Result<u64, StoreError> {
    let s: Option<i64> = conn.query_row("SELECT MAX(seq) FROM audit", [], |r| r.get(0))?;
    Ok(s.map(u).unwrap_or(0))
}

fn put_text(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

/// The hash of an audit entry given the previous entry's hash.
pub fn entry_hash(prev: &[u8; 32], seq: u64, e: &Event<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"milagro-dta audit v1");
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(e.at.to_be_bytes());
    put_text(&mut h, e.source);
    put_text(&mut h, e.event);
    put_text(&mut h, e.outcome);
    match e.identity {
        Some(id) => {
            h.update([1]);
            put_text(&mut h, id);
        }
        None => h.update([0]),
    }
    put_text(&mut h, e.detail);
    h.finalize().into()
}

/// Appends an event to the audit log inside `tx`, chained to the head.
pub fn append(tx: &Transaction<'_>, e: &Event<'_>) -> Result<(), StoreError> {
    let prev = head(tx)?;
    let seq = last_seq(tx)? + 1;
    let hash = entry_hash(&prev, seq, e);
    tx.execute(
        "INSERT INTO audit (seq, at, source, event, outcome, identity, detail, prev, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            i(seq),
            i(e.at),
            e.source,
            e.event,
            e.outcome,
            e.identity,
            e.detail,
            &prev[..],
            &hash[..]
        ],
    )?;
    Ok(())
}

fn row_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: u(r.get(0)?),
        at: u(r.get(1)?),
        source: r.get(2)?,
        event: r.get(3)?,
        outcome: r.get(4)?,
        identity: r.get(5)?,
        detail: r.get(6)?,
        prev: hex::encode(r.get::<_, Vec<u8>>(7)?),
        hash: hex::encode(r.get::<_, Vec<u8>>(8)?),
    })
}

/// Verifies the audit chain of the database at `conn` (see the module
/// documentation). Returns the number of entries and the head (hex).
pub fn verify_chain(
    conn: &Connection,
    expected_head: Option<&str>,
) -> Result<(u64, String), ChainError> {
    let sql = |e: rusqlite::Error| ChainError::Sqlite(std::sync::Arc::new(e));
    let mut stmt = conn
        .prepare(
            "SELECT seq, at, source, event, outcome, identity, detail, prev, hash
             FROM audit ORDER BY seq",
        )
        .map_err(sql)?;
    let rows = stmt.query_map([], row_entry).map_err(sql)?;
    let mut prev = [0u8; 32];
    let mut previous_seq = 0u64;
    let mut seen_head = expected_head.is_none();
    for row in rows {
        let e = row.map_err(sql)?;
        if e.seq != previous_seq + 1 {
            return Err(ChainError::Gap {
                previous: previous_seq,
                found: e.seq,
            });
        }
        if e.prev != hex::encode(prev) {
            return Err(ChainError::BadLink(e.seq));
        }
        let computed = entry_hash(
            &prev,
            e.seq,
            &Event {
                at: e.at,
                source: &e.source,
                event: &e.event,
                outcome: &e.outcome,
                identity: e.identity.as_deref(),
                detail: &e.detail,
            },
        );
        if hex::encode(computed) != e.hash {
            return Err(ChainError::BadHash(e.seq));
        }
        if expected_head.is_some_and(|h| h.eq_ignore_ascii_case(&e.hash)) {
            seen_head = true;
        }
        prev = computed;
        previous_seq = e.seq;
    }
    if !seen_head {
        return Err(ChainError::HeadMissing(
            expected_head.unwrap_or_default().to_owned(),
        ));
    }
    Ok((previous_seq, hex::encode(prev)))
}

/// Opens a database read-only and verifies its audit chain
/// (`milagro-dta audit verify`).
pub fn verify_file(path: &Path, expected_head: Option<&str>) -> Result<(u64, String), ChainError> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| ChainError::Sqlite(std::sync::Arc::new(e)))?;
    verify_chain(&conn, expected_head)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev<'a>(at: u64, outcome: &'a str) -> Event<'a> {
        Event {
            at,
            source: "127.0.0.1",
            event: "enrol",
            outcome,
            identity: Some("alice@example.com"),
            detail: "cs-client",
        }
    }

    #[test]
    fn chain_verifies_and_detects_edits_deletions_and_truncation() {
        let mut s = Store::in_memory("d/t").unwrap();
        for k in 0..5 {
            s.audit(&ev(100 + k, "ok")).unwrap();
        }
        let (n, head) = s.verify_chain(None).unwrap();
        assert_eq!(n, 5);
        assert!(s.verify_chain(Some(&head)).is_ok());
        // Triggers refuse casual edits.
        assert!(
            s.conn
                .execute("UPDATE audit SET outcome = 'x' WHERE seq = 2", [])
                .is_err()
        );
        assert!(
            s.conn
                .execute("DELETE FROM audit WHERE seq = 5", [])
                .is_err()
        );
        s.conn
            .execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
            .unwrap();
        // Truncating the end keeps a valid chain, but loses the recorded head.
        s.conn
            .execute("DELETE FROM audit WHERE seq = 5", [])
            .unwrap();
        assert_eq!(s.verify_chain(None).unwrap().0, 4);
        assert!(matches!(
            s.verify_chain(Some(&head)).unwrap_err(),
            ChainError::HeadMissing(h) if h == head
        ));
        s.conn
            .execute("UPDATE audit SET outcome = 'ticket_used' WHERE seq = 2", [])
            .unwrap();
        assert!(matches!(
            s.verify_chain(None).unwrap_err(),
            ChainError::BadHash(2)
        ));
        s.conn
            .execute("UPDATE audit SET outcome = 'ok' WHERE seq = 2", [])
            .unwrap();
        assert!(s.verify_chain(None).is_ok());
        s.conn
            .execute("DELETE FROM audit WHERE seq = 3", [])
            .unwrap();
        assert!(matches!(
            s.verify_chain(None).unwrap_err(),
            ChainError::Gap {
                previous: 2,
                found: 4
            }
        ));
    }

    #[test]
    fn database_of_another_dta_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        drop(Store::open(&path, "dep/a").unwrap());
        assert!(Store::open(&path, "dep/a").is_ok());
        assert!(matches!(
            Store::open(&path, "dep/b"),
            Err(StoreError::OtherDta { .. })
        ));
    }
}
