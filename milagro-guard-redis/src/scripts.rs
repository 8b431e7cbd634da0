//! The Lua scripts: every multi-step decision of the store is one script,
//! run atomically by Redis (EVALSHA, loaded again after a restart), never a
//! read-modify-write from the client.
//!
//! Each step (replay lookup and insert, bucket, reservation, stage) is a
//! Lua function of [`PRELUDE`], shared by every script, so the merged
//! scripts of a login ([`ADMIT`]: replay lookup, bucket, reservation;
//! [`PROVE`]: replay insert, stage) run exactly the code of the single-step
//! ones, in one round trip each.
//!
//! Conventions shared by all scripts:
//! * `ARGV[1]` is the time in milliseconds, or empty to read Redis's own
//!   clock (`TIME`): with [`crate::TimeSource::Redis`] every server uses the
//!   one clock of Redis, so reservation, replay and bucket lifetimes agree
//!   whatever the servers' clocks say.
//! * Numbers are written with `%.0f` (Lua 5.1 numbers are doubles; every
//!   value stays far below 2^53).
//! * An identity's keys share the hash tag `{h:<hid hex>}` and a source's
//!   bucket has its own `{s:…}`, so every script but [`ADMIT`] touches one
//!   cluster slot. [`ADMIT`] touches the source's bucket and the identity's
//!   keys together: one Redis node runs it atomically, which is what the
//!   store connects to (see the crate documentation, "Differences").
//! * A slot of the reservation hash is `<stage>:<expiry ms>`: `R` reserved,
//!   `P` proved, `A` awaiting classification (its expiry is the orphan hold,
//!   see `RedisOptions::orphan_hold`).
//! * Terminal resolutions (wrong PIN, invalid credential, completed) first
//!   `SET done:<id> NX`: a second application of the same reservation id
//!   changes nothing, so a retry after a timeout never counts twice.

use std::sync::LazyLock;

use redis::Script;

/// The step functions. Each takes its keys and numbers as parameters, so
/// the scripts below only map `KEYS`/`ARGV` onto them.
const PRELUDE: &str = r#"
local function now_ms()
  if ARGV[1] ~= '' then return tonumber(ARGV[1]) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function str(x) return string.format('%.0f', x) end
local function prune(slots, now)
  local all = redis.call('HGETALL', slots)
  local n = 0
  for i = 1, #all, 2 do
    local exp = tonumber(string.sub(all[i + 1], 3))
    if exp <= now then redis.call('HDEL', slots, all[i]) else n = n + 1 end
  end
  return n
end
-- The replay entry holds its expiry in the script's clock; the key's own
-- lifetime only collects garbage.
local function replay_live(key, now)
  local v = tonumber(redis.call('GET', key))
  return v ~= nil and v > now
end
local function replay_insert(key, now, window, lifetime)
  redis.call('SET', key, str(now + window), 'PX', lifetime)
end
-- A token bucket in milli-tokens: `admit` returns 1 when throttled
-- (nothing taken); `charge` goes into debt down to one bucket; `tokens`
-- returns whole tokens (floor, negative in debt). A full bucket is deleted.
local function bucket(key, now, op, cost, cap, rate, slack)
  local v = redis.call('HMGET', key, 'm', 'u')
  local m, u
  if v[1] then
    m = tonumber(v[1])
    u = tonumber(v[2])
    local d = now - u
    if d < 0 then d = 0 end
    m = math.min(cap, m + d * rate)
    if now > u then u = now end
  else
    m = cap
    u = now
  end
  local function store()
    if m >= cap then
      redis.call('DEL', key)
      return
    end
    redis.call('HSET', key, 'm', str(m), 'u', str(u))
    if rate > 0 then
      redis.call('PEXPIRE', key, str(math.ceil((cap - m) / rate) + slack))
    else
      redis.call('PERSIST', key)
    end
  end
  if op == 'tokens' then return math.floor(m / 1000) end
  if op == 'admit' then
    if m < cost then
      if v[1] then store() end
      return 1
    end
    m = m - cost
    store()
    return 0
  end
  m = math.max(m - cost, -cap)
  store()
  return 0
end
-- Reserves slot `id`, or returns the refusal code of `Refusal`'s
-- per-identity variants (1 until re-enrolled, 2 locked out, 3 too many in
-- flight, 4 slowed down). a = {max_failures, max_in_flight,
-- cumulative_cap, reservation ttl, slow-down interval, slow-down
-- allowance, slots hash lifetime}.
local function reserve(idk, slots, now, id, a)
  local inflight = prune(slots, now)
  if redis.call('HEXISTS', slots, id) == 1 then return 0 end
  local v = redis.call('HMGET', idk, 'c', 'k', 't')
  local c = tonumber(v[1]) or 0
  local k = tonumber(v[2]) or 0
  local t = tonumber(v[3]) or 0
  if k >= a[3] then return 1 end
  if c >= a[1] then return 2 end
  if inflight >= a[2] or c + inflight >= a[1] then return 3 end
  if a[5] > 0 and t > now + a[6] then return 4 end
  redis.call('HSET', slots, id, 'R:' .. str(now + a[4]))
  redis.call('PEXPIRE', slots, str(a[7]))
  return 0
end
-- Moves a live slot to `stage`; 1, or 0 when it is gone.
local function advance(slots, now, id, stage, lifetime, hash_life)
  prune(slots, now)
  if redis.call('HEXISTS', slots, id) == 0 then return 0 end
  redis.call('HSET', slots, id, stage .. ':' .. str(now + lifetime))
  redis.call('PEXPIRE', slots, hash_life)
  return 1
end
local function nums(from, to)
  local t = {}
  for i = from, to do t[#t + 1] = tonumber(ARGV[i]) end
  return t
end
"#;

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

/// KEYS: id, slots, done. ARGV: now, slot id, max_failures, max_in_flight,
/// cumulative_cap, reservation ttl, slow-down interval, slow-down allowance,
/// slots hash lifetime. Returns 0 (reserved), a per-identity refusal code,
/// or 5 when [`CANCEL`] ran first for this id (nothing done).
pub(crate) static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('EXISTS', KEYS[3]) == 1 then return 5 end
return reserve(KEYS[1], KEYS[2], now_ms(), ARGV[2], nums(3, 9))
"#,
    )
});

/// Checks 4–6 of a ClientHello in one round trip. KEYS: replay entry,
/// bucket, id, slots, done. ARGV: now, hello cost, bucket size, refill,
/// garbage slack (as [`BUCKET`]), then slot id and the seven numbers of
/// [`RESERVE`]. Returns -1 (replay: nothing written), -2 (throttled:
/// nothing reserved), else what [`RESERVE`] returns (the hello token spent;
/// 5, cancelled, before anything).
pub(crate) static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('EXISTS', KEYS[5]) == 1 then return 5 end
local now = now_ms()
if replay_live(KEYS[1], now) then return -1 end
local b = nums(2, 5)
if bucket(KEYS[2], now, 'admit', b[1], b[2], b[3], b[4]) == 1 then return -2 end
return reserve(KEYS[3], KEYS[4], now, ARGV[6], nums(7, 13))
"#,
    )
});

/// KEYS: slots, done. ARGV: now (unused), slot id, done lifetime. Cancels
/// a reservation whose caller was answered "unavailable": marks the id
/// done, so a [`RESERVE`] or [`ADMIT`] that Redis runs later does nothing,
/// and frees the slot if one already ran.
pub(crate) static CANCEL: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
redis.call('HDEL', KEYS[1], ARGV[2])
return 0
"#,
    )
});

/// KEYS: slots. ARGV: now, slot id, new stage letter, its lifetime, slots
/// hash lifetime. Moves a live slot to the stage; 1, or 0 when it is gone.
pub(crate) static ADVANCE: LazyLock<Script> = LazyLock::new(|| {
    script("return advance(KEYS[1], now_ms(), ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5])")
});

/// A good proof in one round trip. KEYS: replay entry, slots. ARGV: now,
/// replay window, replay key lifetime, slot id, proved lifetime, slots hash
/// lifetime. Returns -1 when the entry is live (a replay: nothing written),
/// else records it and returns what [`ADVANCE`] to `P` returns.
pub(crate) static PROVE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local now = now_ms()
if replay_live(KEYS[1], now) then return -1 end
replay_insert(KEYS[1], now, tonumber(ARGV[2]), ARGV[3])
return advance(KEYS[2], now, ARGV[4], 'P', tonumber(ARGV[5]), ARGV[6])
"#,
    )
});

/// KEYS: id, slots, done. ARGV: now, slot id, done lifetime. Counts one
/// confirmed and cumulative wrong PIN (once per id, even if the slot
/// expired); returns {confirmed, cumulative}.
pub(crate) static WRONG_PIN: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[3]) then
  redis.call('HDEL', KEYS[2], ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'c', 1)
  redis.call('HINCRBY', KEYS[1], 'k', 1)
end
local v = redis.call('HMGET', KEYS[1], 'c', 'k')
return {tonumber(v[1]) or 0, tonumber(v[2]) or 0}
"#,
    )
});

/// KEYS: id, slots, done. ARGV: now, slot id, done lifetime, slow-down
/// interval, slow-down allowance. Releases the slot and spends one unit of
/// the slow-down bucket (a GCRA theoretical arrival time, field `t`), once
/// per id; returns 1 when the identity is slowed down afterwards.
pub(crate) static INVALID: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local now = now_ms()
local interval = tonumber(ARGV[4])
if redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[3]) then
  redis.call('HDEL', KEYS[2], ARGV[2])
  if interval > 0 then
    local t = tonumber(redis.call('HGET', KEYS[1], 't')) or 0
    if t < now then t = now end
    redis.call('HSET', KEYS[1], 't', str(t + interval))
  end
end
if interval == 0 then return 0 end
local t = tonumber(redis.call('HGET', KEYS[1], 't')) or 0
if t > now + tonumber(ARGV[5]) then return 1 end
return 0
"#,
    )
});

/// KEYS: id, slots, done. ARGV: now, slot id, done lifetime. Releases the
/// slot and resets the confirmed count, once per id.
pub(crate) static COMPLETED: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[3]) then
  redis.call('HDEL', KEYS[2], ARGV[2])
  redis.call('HDEL', KEYS[1], 'c')
end
return 0
"#,
    )
});

/// KEYS: id, slots. ARGV: now, slow-down allowance, slow-down interval.
/// Returns {confirmed, cumulative, in flight, slowed 0/1}.
pub(crate) static STATUS: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local now = now_ms()
local n = prune(KEYS[2], now)
local v = redis.call('HMGET', KEYS[1], 'c', 'k', 't')
local slowed = 0
if tonumber(ARGV[3]) > 0 and (tonumber(v[3]) or 0) > now + tonumber(ARGV[2]) then slowed = 1 end
return {tonumber(v[1]) or 0, tonumber(v[2]) or 0, n, slowed}
"#,
    )
});

/// KEYS: replay entry. ARGV: now, window, insert (1) or look up (0),
/// key lifetime. Returns 1 when the entry is live (a replay; nothing
/// written), else 0 (inserted when asked).
pub(crate) static REPLAY: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local now = now_ms()
if replay_live(KEYS[1], now) then return 1 end
if ARGV[3] == '1' then replay_insert(KEYS[1], now, tonumber(ARGV[2]), ARGV[4]) end
return 0
"#,
    )
});

/// KEYS: bucket. ARGV: now, operation (`admit`, `charge`, `tokens`), cost in
/// milli-tokens, bucket size in milli-tokens, refill per ms in milli-tokens,
/// garbage slack in ms. See `bucket` in [`PRELUDE`].
pub(crate) static BUCKET: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local b = nums(3, 6)
return bucket(KEYS[1], now_ms(), ARGV[2], b[1], b[2], b[3], b[4])
"#,
    )
});
