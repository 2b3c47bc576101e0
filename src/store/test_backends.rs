//! The store's test suite runs against both backends: each test written
//! with [`on_both_backends!`] becomes one test on an in-memory SQLite store
//! and one on a fresh PostgreSQL database (the shared test server of
//! `tests/support/pg.rs`: `ROUNDTRIP_TEST_PG_URL`, or a throwaway cluster).

use std::ops::{Deref, DerefMut};

use super::{OpenMode, Store};

#[path = "../../tests/support/pg.rs"]
mod pg_server;

/// A store for one test, keeping its PostgreSQL database alive (and
/// dropping it afterwards).
pub struct TestStore {
    store: Store,
    _db: Option<pg_server::PgDb>,
}

impl Deref for TestStore {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl DerefMut for TestStore {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

/// A fresh in-memory SQLite store.
pub fn sqlite() -> TestStore {
    TestStore {
        store: Store::open_in_memory().unwrap(),
        _db: None,
    }
}

/// A fresh, migrated PostgreSQL store in its own database.
pub fn postgres() -> TestStore {
    let db = pg_server::fresh_db();
    let target = super::pg::PgTarget::parse(&db.url, Some(db.password.clone())).unwrap();
    TestStore {
        store: Store::open_postgres(&target, OpenMode::Create).unwrap(),
        _db: Some(db),
    }
}

/// `fn name(store) { … }` becomes `name::sqlite` and `name::postgres`, the
/// same body on each backend's fresh store.
macro_rules! on_both_backends {
    ($(fn $name:ident($store:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[allow(unused_mut)]
            fn run(mut $store: $crate::store::test_backends::TestStore) $body

            #[test]
            fn sqlite() {
                run($crate::store::test_backends::sqlite());
            }

            #[test]
            fn postgres() {
                run($crate::store::test_backends::postgres());
            }
        }
    )*};
}
pub(crate) use on_both_backends;
