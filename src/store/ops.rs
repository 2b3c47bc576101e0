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
