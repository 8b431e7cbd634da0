//! One store operation, owned so that a retry can send it again.

use std::sync::LazyLock;

use redis::Script;
use redis::aio::ConnectionManager;

/// A script with its keys and arguments (the time first), or a plain command.
pub(crate) enum Op {
    /// A Lua script, sent as `EVALSHA` (loaded on a `NOSCRIPT` answer).
    Script {
        script: &'static Script,
        keys: Vec<String>,
        args: Vec<String>,
    },
    /// A plain command.
    Cmd(redis::Cmd),
}

impl Op {
    pub(crate) fn script(
        script: &'static LazyLock<Script>,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Self {
        Self::Script { script, keys, args }
    }

    /// Sends the operation over the store's connection.
    pub(crate) async fn run<T: redis::FromRedisValue>(
        &self,
        conn: &mut ConnectionManager,
    ) -> redis::RedisResult<T> {
        match self {
            Self::Script { script, keys, args } => {
                let mut inv = script.prepare_invoke();
                for k in keys {
                    inv.key(k);
                }
                for a in args {
                    inv.arg(a);
                }
                inv.invoke_async(conn).await
            }
            Self::Cmd(cmd) => cmd.query_async(conn).await,
        }
    }
}
