//! Which replicas are alive, and which one runs each once-per-cluster loop.
//!
//! Every `roundtrip run` process beats into `replicas`; one whose last beat
//! is older than the staleness threshold counts as dead.
//!
//! Singletons (reconcile and the other loops that must run on one replica at
//! a time) are held with a lease row, not a session advisory lock. A session
//! lock is released when its connection closes, which is quick after a
//! SIGKILL (the kernel closes the socket), but after a power loss or a
//! network partition the server notices only when TCP keepalives give up
//! (two hours by default), and meanwhile no one leads; and a leader whose
//! connection dropped while the process lives keeps believing it leads
//! unless it checks the connection before every step. A lease row expires
//! after its time to live whatever happened to the holder — SIGKILL, power
//! loss, partition — and carries a term that grows with every change of
//! holder, so a leader that stalled past its lease can tell from the term
//! that it was replaced before acting on a stale belief.

use postgres::GenericClient;

use super::{Result, doing};

/// A replica's identity and where it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaInfo {
    /// Unique per process (a fresh UUID at start).
    pub id: String,
    /// Host name, for the operator.
    pub host: String,
    /// Process id on that host.
    pub pid: i64,
    /// When the process started (ms).
    pub started_at: i64,
}

/// A replica as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    /// Who and where.
    pub info: ReplicaInfo,
    /// Its last beat (ms).
    pub last_beat: i64,
    /// Whether it beat within the staleness threshold.
    pub alive: bool,
}

/// Record that `replica` is alive at `now` (first beat registers it).
pub fn beat(client: &mut impl GenericClient, replica: &ReplicaInfo, now: i64) -> Result<()> {
    client
        .execute(
            "INSERT INTO replicas (id, host, pid, started_at, last_beat)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid,
                 last_beat = GREATEST(replicas.last_beat, excluded.last_beat)",
            &[
                &replica.id,
                &replica.host,
                &replica.pid,
                &replica.started_at,
                &now,
            ],
        )
        .map_err(doing(format!(
            "recording replica {}'s heartbeat",
            replica.id
        )))?;
    Ok(())
}

/// How long a replica that stopped without leaving (SIGKILL, power loss)
/// stays listed: a day, so `status` shows a recent crash but replicas
/// named afresh at every start do not pile up.
pub const FORGET_AFTER_MS: i64 = 24 * 3_600_000;

/// A clean stop: `replica` leaves the list, and replicas silent for more
/// than [`FORGET_AFTER_MS`] are forgotten with it.
pub fn leave(client: &mut impl GenericClient, replica: &str, now: i64) -> Result<()> {
    client
        .execute(
            "DELETE FROM replicas WHERE id = $1 OR last_beat < $2::bigint - $3::bigint",
            &[&replica, &now, &FORGET_AFTER_MS],
        )
        .map_err(doing(format!("removing replica {replica} from the list")))?;
    Ok(())
}

/// Every replica known, oldest first, each alive when it beat within
/// `stale_after_ms` of `now`.
pub fn replicas(
    client: &mut impl GenericClient,
    now: i64,
    stale_after_ms: i64,
) -> Result<Vec<ReplicaState>> {
    let rows = client
        .query(
            "SELECT id, host, pid, started_at, last_beat FROM replicas ORDER BY started_at, id",
            &[],
        )
        .map_err(doing("reading the replicas"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let last_beat: i64 = r.get(4);
            ReplicaState {
                info: ReplicaInfo {
                    id: r.get(0),
                    host: r.get(1),
                    pid: r.get(2),
                    started_at: r.get(3),
                },
                last_beat,
                alive: now - last_beat <= stale_after_ms,
            }
        })
        .collect())
}

/// A loop that runs on one replica at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Singleton {
    /// The periodic full comparison of both sides.
    Reconcile,
    /// Pruning and other housekeeping of the store.
    Upkeep,
}

impl Singleton {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Singleton::Reconcile => "reconcile",
            Singleton::Upkeep => "upkeep",
        }
    }
}

/// The answer of [`try_lead`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lead {
    /// This replica holds the lease until `until` (ms); `term` changes only
    /// when the holder changes.
    Leader {
        /// The lease's term.
        term: i64,
        /// When it expires unless renewed.
        until: i64,
    },
    /// Another replica holds it.
    Follower {
        /// The holder.
        holder: String,
        /// When its lease expires unless renewed.
        until: i64,
    },
}

/// Take or renew the lease of `role` for `replica` until `now + ttl_ms`:
/// granted when no one holds it, when `replica` already does, or when the
/// holder's lease expired (a dead leader). One statement, so two replicas
/// asking at once cannot both win.
pub fn try_lead(
    client: &mut impl GenericClient,
    role: Singleton,
    replica: &str,
    now: i64,
    ttl_ms: i64,
) -> Result<Lead> {
    let won = client
        .query_opt(
            "INSERT INTO singleton_leases (role, holder, term, acquired_at, expires_at)
             VALUES ($1, $2, 1, $3::bigint, $3::bigint + $4::bigint)
             ON CONFLICT (role) DO UPDATE SET
                 holder = excluded.holder,
                 term = CASE WHEN singleton_leases.holder = excluded.holder
                             THEN singleton_leases.term ELSE singleton_leases.term + 1 END,
                 acquired_at = CASE WHEN singleton_leases.holder = excluded.holder
                             THEN singleton_leases.acquired_at ELSE excluded.acquired_at END,
                 expires_at = excluded.expires_at
             WHERE singleton_leases.holder = excluded.holder
                OR singleton_leases.expires_at <= excluded.acquired_at
             RETURNING term, expires_at",
            &[&role.as_str(), &replica, &now, &ttl_ms],
        )
        .map_err(doing(format!("taking the {} lease", role.as_str())))?;
    if let Some(r) = won {
        return Ok(Lead::Leader {
            term: r.get(0),
            until: r.get(1),
        });
    }
    let r = client
        .query_one(
            "SELECT holder, expires_at FROM singleton_leases WHERE role = $1",
            &[&role.as_str()],
        )
        .map_err(doing(format!("reading the {} lease", role.as_str())))?;
    Ok(Lead::Follower {
        holder: r.get(0),
        until: r.get(1),
    })
}

/// Give the lease up at once (a clean stop), so another replica need not
/// wait for it to expire. Nothing happens when `replica` does not hold it.
pub fn resign(client: &mut impl GenericClient, role: Singleton, replica: &str) -> Result<bool> {
    let n = client
        .execute(
            "UPDATE singleton_leases SET expires_at = acquired_at
             WHERE role = $1 AND holder = $2",
            &[&role.as_str(), &replica],
        )
        .map_err(doing(format!("giving up the {} lease", role.as_str())))?;
    Ok(n > 0)
}

/// A singleton lease as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseState {
    /// The loop's stored name.
    pub role: String,
    /// The replica holding it.
    pub holder: String,
    /// When it expires unless renewed (ms).
    pub expires_at: i64,
}

/// Every singleton lease, expired or not, by role.
pub fn leases(client: &mut impl GenericClient) -> Result<Vec<LeaseState>> {
    let rows = client
        .query(
            "SELECT role, holder, expires_at FROM singleton_leases ORDER BY role",
            &[],
        )
        .map_err(doing("reading the singleton leases"))?;
    Ok(rows
        .iter()
        .map(|r| LeaseState {
            role: r.get(0),
            holder: r.get(1),
            expires_at: r.get(2),
        })
        .collect())
}
