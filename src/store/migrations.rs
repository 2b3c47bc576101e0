//! Ordered schema migrations, embedded in the binary. `PRAGMA user_version`
//! records how many have been applied; a database with a higher number was
//! written by a newer roundtrip and is refused rather than misread.

/// Each entry upgrades the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8, V9];

/// The schema version this binary writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

const V1: &str = r#"
CREATE TABLE records (
    id                INTEGER PRIMARY KEY,
    side              TEXT NOT NULL CHECK (side IN ('portal', 'linear')),
    remote_id         TEXT NOT NULL,
    identifier        TEXT,
    title             TEXT NOT NULL DEFAULT '',
    fields            TEXT NOT NULL,
    content_hash      TEXT NOT NULL,
    remote_updated_at INTEGER,
    seen_at           INTEGER NOT NULL,
    deleted_at        INTEGER,
    UNIQUE (side, remote_id)
);

CREATE TABLE links (
    id          INTEGER PRIMARY KEY,
    portal_id   TEXT UNIQUE,
    linear_id   TEXT UNIQUE,
    client_id   TEXT UNIQUE,
    state       TEXT NOT NULL DEFAULT 'active'
                CHECK (state IN ('pending', 'active', 'unlinked')),
    title       TEXT NOT NULL DEFAULT '',
    base        TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CHECK (portal_id IS NOT NULL OR linear_id IS NOT NULL OR client_id IS NOT NULL)
);
CREATE INDEX links_title ON links (title COLLATE NOCASE, id);

CREATE TABLE comment_links (
    id                INTEGER PRIMARY KEY,
    link_id           INTEGER NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    portal_comment_id TEXT UNIQUE,
    linear_comment_id TEXT UNIQUE,
    origin            TEXT NOT NULL CHECK (origin IN ('portal', 'linear')),
    created_at        INTEGER NOT NULL
);
CREATE INDEX comment_links_link ON comment_links (link_id);

CREATE TABLE inbox (
    id           INTEGER PRIMARY KEY,
    source       TEXT NOT NULL CHECK (source IN ('portal', 'linear')),
    delivery_id  TEXT NOT NULL,
    event        TEXT NOT NULL,
    record_id    TEXT,
    removed      INTEGER NOT NULL DEFAULT 0,
    payload      TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    processed_at INTEGER,
    UNIQUE (source, delivery_id)
);
CREATE INDEX inbox_pending ON inbox (id) WHERE processed_at IS NULL;

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    link_id      INTEGER REFERENCES links (id) ON DELETE SET NULL,
    target       TEXT NOT NULL CHECK (target IN ('portal', 'linear')),
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
    lane         TEXT NOT NULL DEFAULT 'live' CHECK (lane IN ('live', 'backfill')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 8,
    next_run_at  INTEGER NOT NULL,
    error_class  TEXT,
    last_error   TEXT,
    http_status  INTEGER,
    request_id   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX jobs_status ON jobs (status, id);
CREATE INDEX jobs_status_class ON jobs (status, error_class, id);
CREATE INDEX jobs_class ON jobs (error_class, id);
CREATE INDEX jobs_runnable ON jobs (next_run_at, id) WHERE status = 'queued';
CREATE INDEX jobs_link ON jobs (link_id, id);

CREATE TABLE job_attempts (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    http_status INTEGER,
    error_class TEXT,
    message     TEXT,
    request_id  TEXT
);
CREATE INDEX job_attempts_job ON job_attempts (job_id, id);

CREATE TABLE conflicts (
    id                INTEGER PRIMARY KEY,
    link_id           INTEGER NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    field             TEXT NOT NULL,
    base_value        TEXT NOT NULL,
    portal_value      TEXT NOT NULL,
    linear_value      TEXT NOT NULL,
    portal_changed_at INTEGER,
    linear_changed_at INTEGER,
    status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolution        TEXT,
    resolved_value    TEXT,
    resolved_by       TEXT,
    resolved_at       INTEGER,
    applied_at        INTEGER,
    created_at        INTEGER NOT NULL
);
CREATE UNIQUE INDEX conflicts_one_open ON conflicts (link_id, field) WHERE status = 'open';
CREATE INDEX conflicts_status ON conflicts (status, id);
CREATE INDEX conflicts_unapplied ON conflicts (id) WHERE status = 'resolved' AND applied_at IS NULL;

CREATE TABLE quota (
    connector  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    lim        INTEGER NOT NULL,
    remaining  INTEGER NOT NULL,
    reset_at   INTEGER,
    sampled_at INTEGER NOT NULL,
    PRIMARY KEY (connector, kind)
);
CREATE TABLE quota_samples (
    id         INTEGER PRIMARY KEY,
    connector  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    lim        INTEGER NOT NULL,
    remaining  INTEGER NOT NULL,
    reset_at   INTEGER,
    sampled_at INTEGER NOT NULL
);
CREATE INDEX quota_samples_series ON quota_samples (connector, kind, sampled_at);

CREATE TABLE mappings (
    version    INTEGER PRIMARY KEY,
    document   TEXT NOT NULL,
    active     INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
    note       TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX mappings_one_active ON mappings (active) WHERE active = 1;

CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    link_id   INTEGER,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    side      TEXT,
    field     TEXT,
    before    TEXT,
    after     TEXT,
    reason    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_link ON audit (link_id, id);

CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    level   TEXT NOT NULL CHECK (level IN ('error', 'warn', 'info', 'debug')),
    target  TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX events_level ON events (level, id);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Maintained counters so the console and `status` never count big tables.
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    n    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO counters (name, n) VALUES
    ('links', 0), ('conflicts.open', 0),
    ('jobs.queued', 0), ('jobs.running', 0), ('jobs.succeeded', 0),
    ('jobs.failed', 0), ('jobs.dead', 0), ('jobs.cancelled', 0);

CREATE TRIGGER links_count_ins AFTER INSERT ON links
BEGIN UPDATE counters SET n = n + 1 WHERE name = 'links'; END;
CREATE TRIGGER links_count_del AFTER DELETE ON links
BEGIN UPDATE counters SET n = n - 1 WHERE name = 'links'; END;

CREATE TRIGGER jobs_count_ins AFTER INSERT ON jobs
BEGIN UPDATE counters SET n = n + 1 WHERE name = 'jobs.' || NEW.status; END;
CREATE TRIGGER jobs_count_del AFTER DELETE ON jobs
BEGIN UPDATE counters SET n = n - 1 WHERE name = 'jobs.' || OLD.status; END;
CREATE TRIGGER jobs_count_upd AFTER UPDATE OF status ON jobs WHEN OLD.status <> NEW.status
BEGIN
    UPDATE counters SET n = n - 1 WHERE name = 'jobs.' || OLD.status;
    UPDATE counters SET n = n + 1 WHERE name = 'jobs.' || NEW.status;
END;

CREATE TRIGGER conflicts_count_ins AFTER INSERT ON conflicts WHEN NEW.status = 'open'
BEGIN UPDATE counters SET n = n + 1 WHERE name = 'conflicts.open'; END;
CREATE TRIGGER conflicts_count_del AFTER DELETE ON conflicts WHEN OLD.status = 'open'
BEGIN UPDATE counters SET n = n - 1 WHERE name = 'conflicts.open'; END;
CREATE TRIGGER conflicts_count_upd AFTER UPDATE OF status ON conflicts WHEN OLD.status <> NEW.status
BEGIN
    UPDATE counters SET n = n + (CASE WHEN NEW.status = 'open' THEN 1 ELSE -1 END)
    WHERE name = 'conflicts.open';
END;
"#;

/// V2: time indexes for the console's Overview (changes per minute from the
/// audit log, error rate from recent attempts), so those aggregates read only
/// the last minutes of rows instead of scanning the tables.
const V2: &str = r#"
CREATE INDEX audit_at ON audit (at);
CREATE INDEX job_attempts_started ON job_attempts (started_at);
"#;

/// V3: records found by their human key (`ENG-42`): a portal post linked by
/// Canny's own Linear integration names its issue by id or by key, and
/// adopting that link must not scan every record.
const V3: &str = r#"
CREATE INDEX records_identifier ON records (side, identifier) WHERE identifier IS NOT NULL;
"#;

/// V4: a mapping version the engine refused keeps the reason (and is never
/// active); `activated_at` tells a refusal the operator has not acted on
/// from one that an apply or rollback has since answered.
const V4: &str = r#"
ALTER TABLE mappings ADD COLUMN activated_at INTEGER;
ALTER TABLE mappings ADD COLUMN refused_reason TEXT;
ALTER TABLE mappings ADD COLUMN refused_at INTEGER;
UPDATE mappings SET activated_at = created_at WHERE active = 1;
"#;

/// V5: the inbox keeps only what the engine needs and deduplicates on the
/// signed content (the delivery id is not signed); pending deliveries are
/// found per record (one read answers them all) and processed ones by age
/// (pruning).
const V5: &str = r#"
ALTER TABLE inbox ADD COLUMN signed_digest TEXT;
CREATE UNIQUE INDEX inbox_signed ON inbox (source, signed_digest) WHERE signed_digest IS NOT NULL;
CREATE INDEX inbox_pending_record ON inbox (source, record_id, id) WHERE processed_at IS NULL;
CREATE INDEX inbox_processed_age ON inbox (received_at) WHERE processed_at IS NOT NULL;
ALTER TABLE inbox DROP COLUMN payload;
"#;

/// V6: what keeps concurrent edits from being lost or looping.
///
/// * `records.fresh_at`: when the stored state was last known to be current
///   (ms; a read's start, or a write's landing), so a read that started
///   before a newer state was stored never replaces it with older values.
/// * `conflicts.kind` / `kind_side` / `note`: why a conflict exists beyond
///   "both changed" — a value the other side refused, or a human edit a
///   write of ours replaced — and which side it concerns.
/// * `write_refusals`: a value a side refused (validation), until the next
///   merge turns it into a "cannot write" conflict.
/// * `write_receipts`: what each Linear update (recorded before it is sent)
///   expected to replace, checked against the `updatedFrom` of its webhook.
/// * `link_breakers`: per-link circuit breaker for links that keep failing.
/// * `inbox.evidence`: what a Linear update webhook says it replaced
///   (`updatedFrom` and the new values, nothing else of the body).
const V6: &str = r#"
ALTER TABLE inbox ADD COLUMN evidence TEXT;
ALTER TABLE records ADD COLUMN fresh_at INTEGER NOT NULL DEFAULT 0;

ALTER TABLE conflicts ADD COLUMN kind TEXT NOT NULL DEFAULT 'both_changed';
ALTER TABLE conflicts ADD COLUMN kind_side TEXT CHECK (kind_side IN ('portal', 'linear'));
ALTER TABLE conflicts ADD COLUMN note TEXT;
CREATE INDEX conflicts_open_kind ON conflicts (kind) WHERE status = 'open';

CREATE TABLE write_refusals (
    id         INTEGER PRIMARY KEY,
    link_id    INTEGER NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    side       TEXT NOT NULL CHECK (side IN ('portal', 'linear')),
    field      TEXT NOT NULL,
    value      TEXT NOT NULL,
    message    TEXT NOT NULL,
    job_id     INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX write_refusals_link ON write_refusals (link_id);

CREATE TABLE write_receipts (
    id                INTEGER PRIMARY KEY,
    link_id           INTEGER REFERENCES links (id) ON DELETE CASCADE,
    side              TEXT NOT NULL CHECK (side IN ('portal', 'linear')),
    remote_id         TEXT NOT NULL,
    expected          TEXT NOT NULL,
    written           TEXT NOT NULL,
    created_at        INTEGER NOT NULL
);
CREATE INDEX write_receipts_match ON write_receipts (side, remote_id, id);
CREATE INDEX write_receipts_age ON write_receipts (created_at);

CREATE TABLE link_breakers (
    link_id       INTEGER PRIMARY KEY REFERENCES links (id) ON DELETE CASCADE,
    failures      INTEGER NOT NULL DEFAULT 0,
    window_start  INTEGER NOT NULL,
    trips         INTEGER NOT NULL DEFAULT 0,
    tripped_until INTEGER,
    reason        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX link_breakers_tripped ON link_breakers (tripped_until) WHERE tripped_until IS NOT NULL;
"#;

/// V7: find a link by the ids operators have without scanning. `link_keys`
/// holds each link's ids in normalised form (lowercase; URLs without
/// scheme, `www.`, query, fragment or trailing slash): the portal post id
/// and its last eight characters (what the console shows of a long id), the
/// Linear issue id, its key (`eng-71`) and both records' URLs, kept by
/// triggers whichever code path writes a link or a record. `links_fts`
/// indexes title words (FTS5, external content). `links.linear_key` keeps
/// the Linear key on the link so every listing names the link the same way
/// without a lookup per row.
const V7: &str = r#"
ALTER TABLE links ADD COLUMN linear_key TEXT;
-- Bumped by the record triggers so the link's keys are rebuilt in one place.
ALTER TABLE links ADD COLUMN search_rev INTEGER NOT NULL DEFAULT 0;

CREATE TABLE link_keys (
    key     TEXT NOT NULL,
    link_id INTEGER NOT NULL,
    PRIMARY KEY (key, link_id)
) WITHOUT ROWID;
CREATE INDEX link_keys_link ON link_keys (link_id);

CREATE VIEW link_urls AS
SELECT link_id, rtrim(CASE WHEN instr(u, '#') > 0 THEN substr(u, 1, instr(u, '#') - 1) ELSE u END, '/') AS key
FROM (SELECT link_id, CASE WHEN instr(u, '?') > 0 THEN substr(u, 1, instr(u, '?') - 1) ELSE u END AS u
FROM (SELECT link_id, CASE WHEN u LIKE 'www.%' THEN substr(u, 5) ELSE u END AS u
FROM (SELECT link_id, CASE WHEN u LIKE 'https://%' THEN substr(u, 9)
                           WHEN u LIKE 'http://%' THEN substr(u, 8) ELSE u END AS u
FROM (SELECT l.id AS link_id, lower(trim(json_extract(r.fields, '$.url'))) AS u
        FROM links l JOIN records r ON r.side = 'portal' AND r.remote_id = l.portal_id
      UNION ALL
      SELECT l.id, lower(trim(json_extract(r.fields, '$.url')))
        FROM links l JOIN records r ON r.side = 'linear' AND r.remote_id = l.linear_id))));

CREATE VIEW link_key_source AS
SELECT id AS link_id, lower(portal_id) AS key FROM links WHERE portal_id IS NOT NULL
UNION ALL
SELECT id, lower(substr(portal_id, -8)) FROM links WHERE length(portal_id) > 12
UNION ALL
SELECT id, lower(linear_id) FROM links WHERE linear_id IS NOT NULL
UNION ALL
SELECT id, lower(linear_key) FROM links WHERE linear_key IS NOT NULL
UNION ALL
SELECT link_id, key FROM link_urls WHERE key IS NOT NULL;

UPDATE links SET linear_key = (
    SELECT identifier FROM records r WHERE r.side = 'linear' AND r.remote_id = links.linear_id
) WHERE linear_id IS NOT NULL;

INSERT OR IGNORE INTO link_keys (key, link_id)
SELECT key, link_id FROM link_key_source WHERE key <> '';

CREATE TRIGGER link_keys_ins AFTER INSERT ON links
BEGIN
    UPDATE links SET linear_key = r.identifier FROM records r
    WHERE links.id = NEW.id AND r.side = 'linear' AND r.remote_id = NEW.linear_id
      AND r.identifier IS NOT NULL AND NEW.linear_key IS NOT r.identifier;
    -- The update above already rebuilt the keys when it changed the key.
    INSERT OR IGNORE INTO link_keys (key, link_id)
    SELECT key, link_id FROM link_key_source
    WHERE link_id = NEW.id AND key <> ''
      AND NOT EXISTS (SELECT 1 FROM link_keys WHERE link_id = NEW.id);
END;

CREATE TRIGGER link_keys_upd AFTER UPDATE OF portal_id, linear_id, linear_key, search_rev ON links
WHEN OLD.portal_id IS NOT NEW.portal_id OR OLD.linear_id IS NOT NEW.linear_id
  OR OLD.linear_key IS NOT NEW.linear_key OR OLD.search_rev IS NOT NEW.search_rev
BEGIN
    UPDATE links SET linear_key = (
        SELECT identifier FROM records r WHERE r.side = 'linear' AND r.remote_id = NEW.linear_id
    ) WHERE links.id = NEW.id AND OLD.linear_id IS NOT NEW.linear_id;
    DELETE FROM link_keys WHERE link_id = NEW.id;
    INSERT OR IGNORE INTO link_keys (key, link_id)
    SELECT key, link_id FROM link_key_source WHERE link_id = NEW.id AND key <> '';
END;

CREATE TRIGGER link_keys_del AFTER DELETE ON links
BEGIN
    DELETE FROM link_keys WHERE link_id = OLD.id;
END;

CREATE TRIGGER link_keys_record_ins AFTER INSERT ON records
BEGIN
    UPDATE links SET search_rev = search_rev + 1
    WHERE NEW.side = 'portal' AND portal_id = NEW.remote_id;
    UPDATE links SET linear_key = NEW.identifier, search_rev = search_rev + 1
    WHERE NEW.side = 'linear' AND linear_id = NEW.remote_id;
END;

CREATE TRIGGER link_keys_record_upd AFTER UPDATE OF identifier, fields ON records
WHEN OLD.identifier IS NOT NEW.identifier
  OR json_extract(OLD.fields, '$.url') IS NOT json_extract(NEW.fields, '$.url')
BEGIN
    UPDATE links SET search_rev = search_rev + 1
    WHERE NEW.side = 'portal' AND portal_id = NEW.remote_id;
    UPDATE links SET linear_key = NEW.identifier, search_rev = search_rev + 1
    WHERE NEW.side = 'linear' AND linear_id = NEW.remote_id;
END;

CREATE VIRTUAL TABLE links_fts USING fts5 (
    title, content = 'links', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
INSERT INTO links_fts (links_fts) VALUES ('rebuild');

CREATE TRIGGER links_fts_ins AFTER INSERT ON links
BEGIN
    INSERT INTO links_fts (rowid, title) VALUES (NEW.id, NEW.title);
END;
CREATE TRIGGER links_fts_del AFTER DELETE ON links
BEGIN
    INSERT INTO links_fts (links_fts, rowid, title) VALUES ('delete', OLD.id, OLD.title);
END;
CREATE TRIGGER links_fts_upd AFTER UPDATE OF title ON links WHEN OLD.title IS NOT NEW.title
BEGIN
    INSERT INTO links_fts (links_fts, rowid, title) VALUES ('delete', OLD.id, OLD.title);
    INSERT INTO links_fts (rowid, title) VALUES (NEW.id, NEW.title);
END;
"#;

/// V8: routing and closing the loop.
///
/// * `link_routes`: the route a link's issue was placed by, where it was
///   placed (team, project), and when its loop was closed (shipped).
/// * `unrouted`: portal posts no route takes, with why, for `status` and
///   the console (never silently ignored).
/// * `changelog_groups` / `changelog_posts`: one changelog entry per cycle
///   or project, the posts shipped in it, and whether it is published.
const V8: &str = r#"
CREATE TABLE link_routes (
    link_id    INTEGER PRIMARY KEY REFERENCES links (id) ON DELETE CASCADE,
    route      TEXT NOT NULL,
    team       TEXT,
    project    TEXT,
    shipped_at INTEGER,
    updated_at INTEGER NOT NULL
);

CREATE TABLE unrouted (
    portal_id TEXT PRIMARY KEY,
    title     TEXT NOT NULL DEFAULT '',
    reason    TEXT NOT NULL,
    seen_at   INTEGER NOT NULL
);

CREATE TABLE changelog_groups (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('cycle', 'project')),
    remote_id    TEXT NOT NULL,
    name         TEXT NOT NULL,
    route        TEXT NOT NULL,
    settings     TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'open'
                 CHECK (state IN ('open', 'queued', 'published', 'dropped')),
    entry_id     TEXT,
    created_at   INTEGER NOT NULL,
    published_at INTEGER,
    UNIQUE (kind, remote_id)
);
CREATE INDEX changelog_groups_state ON changelog_groups (state, id);

CREATE TABLE changelog_posts (
    group_id  INTEGER NOT NULL REFERENCES changelog_groups (id) ON DELETE CASCADE,
    portal_id TEXT NOT NULL,
    link_id   INTEGER REFERENCES links (id) ON DELETE SET NULL,
    title     TEXT NOT NULL DEFAULT '',
    url       TEXT,
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (group_id, portal_id)
);
"#;

/// V9: who holds a running job and until when. Only the PostgreSQL backend,
/// where several replicas claim from one queue, fills them; a single SQLite
/// process leaves them NULL and requeues its own running jobs at start.
const V9: &str = r#"
ALTER TABLE jobs ADD COLUMN claimed_by TEXT;
ALTER TABLE jobs ADD COLUMN lease_until INTEGER;
"#;
