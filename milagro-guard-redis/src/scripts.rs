//! The Lua scripts: every multi-step decision of the store is one script,
//! run atomically by Redis (EVALSHA, loaded again after a restart), never a
//! read-modify-write from the client.
//!
//! Conventions shared by all scripts:
//! * `ARGV[1]` is the time in milliseconds, or empty to read Redis's own
//!   clock (`TIME`): with [`crate::TimeSource::Redis`] every server uses the
//!   one clock of Redis, so reservation, replay and bucket lifetimes agree
//!   whatever the servers' clocks say.
//! * Numbers are written with `%.0f` (Lua 5.1 numbers are doubles; every
//!   value stays far below 2^53).
//! * An identity's keys share the hash tag `{h:<hid hex>}` and a source's
//!   bucket has its own `{s:…}`, so each script touches one cluster slot.
//! * A slot of the reservation hash is `<stage>:<expiry ms>`: `R` reserved,
//!   `P` proved, `A` awaiting classification (its expiry is the orphan hold,
//!   see `RedisOptions::orphan_hold`).
//! * Terminal resolutions (wrong PIN, invalid credential, completed) first
//!   `SET done:<id> NX`: a second application of the same reservation id
//!   changes nothing, so a retry after a timeout never counts twice.

use std::sync::LazyLock;

use redis::Script;

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
"#;

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

/// KEYS: id, slots. ARGV: now, slot id, max_failures, max_in_flight,
/// cumulative_cap, reservation ttl, slow-down interval, slow-down allowance,
/// slots hash lifetime. Returns 0 (reserved) or the refusal code of
/// `Refusal` per-identity variants (1 until re-enrolled, 2 locked out,
/// 3 too many in flight, 4 slowed down).
pub(crate) static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local now = now_ms()
local inflight = prune(KEYS[2], now)
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return 0 end
local v = redis.call('HMGET', KEYS[1], 'c', 'k', 't')
local c = tonumber(v[1]) or 0
local k = tonumber(v[2]) or 0
local t = tonumber(v[3]) or 0
if k >= tonumber(ARGV[5]) then return 1 end
if c >= tonumber(ARGV[3]) then return 2 end
if inflight >= tonumber(ARGV[4]) or c + inflight >= tonumber(ARGV[3]) then return 3 end
if tonumber(ARGV[7]) > 0 and t > now + tonumber(ARGV[8]) then return 4 end
redis.call('HSET', KEYS[2], ARGV[2], 'R:' .. str(now + tonumber(ARGV[6])))
redis.call('PEXPIRE', KEYS[2], ARGV[9])
return 0
"#,
    )
});

/// KEYS: slots. ARGV: now, slot id, new stage letter, its lifetime, slots
/// hash lifetime. Moves a live slot to the stage; 1, or 0 when it is gone.
pub(crate) static ADVANCE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local now = now_ms()
prune(KEYS[1], now)
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3] .. ':' .. str(now + tonumber(ARGV[4])))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
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
/// written), else 0 (inserted when asked). The entry holds its expiry in
/// the script's clock; the key's own lifetime only collects garbage.
pub(crate) static REPLAY: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local now = now_ms()
local v = tonumber(redis.call('GET', KEYS[1]))
if v and v > now then return 1 end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], str(now + tonumber(ARGV[2])), 'PX', ARGV[4])
end
return 0
"#,
    )
});

/// KEYS: bucket. ARGV: now, operation (`admit`, `charge`, `tokens`), cost in
/// milli-tokens, bucket size in milli-tokens, refill per ms in milli-tokens,
/// garbage slack in ms. `admit` returns 1 when throttled (nothing taken);
/// `charge` goes into debt down to one bucket; `tokens` returns whole
/// tokens (floor, negative in debt). A full bucket is deleted.
pub(crate) static BUCKET: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local now = now_ms()
local cap = tonumber(ARGV[4])
local rate = tonumber(ARGV[5])
local v = redis.call('HMGET', KEYS[1], 'm', 'u')
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
    redis.call('DEL', KEYS[1])
    return
  end
  redis.call('HSET', KEYS[1], 'm', str(m), 'u', str(u))
  if rate > 0 then
    redis.call('PEXPIRE', KEYS[1], str(math.ceil((cap - m) / rate) + tonumber(ARGV[6])))
  else
    redis.call('PERSIST', KEYS[1])
  end
end
local op = ARGV[2]
if op == 'tokens' then return math.floor(m / 1000) end
local cost = tonumber(ARGV[3])
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
"#,
    )
});
