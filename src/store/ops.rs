//! Reads the operator CLI needs beyond the console's: a link together with
//! the last-seen records of both its sides, walked in keyset windows, so
//! `mapping preview` can plan every link without loading the whole store.

use super::{Db, Link, Result, StoredRecord, Window};
use crate::domain::Side;

/// A link with the records roundtrip last saw on each side — the three
/// inputs (base, portal, Linear) of a merge, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkMirror {
    /// The link, with its base snapshot.
    pub link: Link,
    /// The portal post as last seen, if the link has a portal id and it was seen.
    pub portal: Option<StoredRecord>,
    /// The Linear issue as last seen, if the link has a Linear id and it was seen.
    pub linear: Option<StoredRecord>,
}

impl Db<'_> {
    /// A keyset window of links with both sides' last-seen records. Every
    /// lookup is by primary key or the `(side, remote_id)` unique index, so
    /// a window costs the same anywhere in a large store.
    pub fn link_mirrors(&self, window: Window) -> Result<Vec<LinkMirror>> {
        let links = self.links(window)?;
        let mut out = Vec::with_capacity(links.len());
        for link in links {
            let portal = match link.portal_id.as_deref() {
                Some(id) => self.record(Side::Portal, id)?,
                None => None,
            };
            let linear = match link.linear_id.as_deref() {
                Some(id) => self.record(Side::Linear, id)?,
                None => None,
            };
            out.push(LinkMirror {
                link,
                portal,
                linear,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::{LinkState, Window};
    use crate::domain::{Record, Side};
    use crate::store::test_backends::on_both_backends;

    on_both_backends! {
    fn link_mirrors_pair_records_and_paginate(store) {
        let (a, b) = store
            .write(|d| -> crate::store::Result<(i64, i64)> {
                let a = d.insert_link(
                    Some("p-1"),
                    Some("l-1"),
                    None,
                    LinkState::Active,
                    "A",
                    &BTreeMap::new(),
                )?;
                let b = d.insert_link(
                    None,
                    None,
                    Some("c-2"),
                    LinkState::Pending,
                    "B",
                    &BTreeMap::new(),
                )?;
                for (side, id) in [(Side::Portal, "p-1"), (Side::Linear, "l-1")] {
                    d.upsert_record(
                        side,
                        &Record {
                            remote_id: id.into(),
                            ..Record::default()
                        },
                    )?;
                }
                Ok((a, b))
            })
            .unwrap();
        let page = store.db().link_mirrors(Window::first(1)).unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].link.id, a);
        assert_eq!(page[0].portal.as_ref().unwrap().record.remote_id, "p-1");
        assert_eq!(page[0].linear.as_ref().unwrap().record.remote_id, "l-1");
        let next = store.db().link_mirrors(Window::first(10).after(a)).unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].link.id, b);
        assert!(next[0].portal.is_none() && next[0].linear.is_none());
    }
    }
}
