//! Finding a record by the ids operators have, through the store's
//! indexes (migration V7), from the Links view's `/`.

use crossterm::event::KeyCode;

use super::{app, issue_id, message, post_id, press, typed};
use crate::console::app::App;
use crate::console::theme::Theme;
use crate::domain::{Record, Side};
use crate::store::LinkQuery;

fn search(a: &mut App, text: &str) -> Vec<i64> {
    press(a, KeyCode::Char('4'));
    press(a, KeyCode::Char('/'));
    // Replace whatever the prompt holds.
    for _ in 0..80 {
        press(a, KeyCode::Backspace);
    }
    typed(a, text);
    press(a, KeyCode::Enter);
    a.views.links.pager.rows.iter().map(|l| l.id).collect()
}

#[test]
fn finds_a_link_by_every_id_an_operator_has() {
    let mut a = app(false, Theme::mono());
    assert_eq!(search(&mut a, "ENG-104"), [5]);
    assert_eq!(search(&mut a, "eng-104"), [5], "any case");
    assert_eq!(search(&mut a, &issue_id(7)), [7], "the Linear UUID");
    assert_eq!(
        search(&mut a, &issue_id(7)[..26]),
        (1..=40).rev().collect::<Vec<_>>(),
        "a prefix every id shares matches all"
    );
    assert_eq!(
        search(&mut a, "ENG-10"),
        (1..=10).rev().collect::<Vec<_>>(),
        "no key is ENG-10: every key starting with it"
    );
    assert_eq!(search(&mut a, &post_id(12)), [12], "the post id");
    assert_eq!(search(&mut a, "0000100c"), [12], "the tail the table shows");
    assert_eq!(
        search(
            &mut a,
            "https://www.feedback.acme.test/feature-requests/p/sso-with-okta--3/?ref=mail#c1"
        ),
        [3],
        "the post's URL, however decorated"
    );
    assert_eq!(
        search(
            &mut a,
            "https://linear.app/acme/issue/ENG-110/sso-with-okta--11"
        ),
        [11],
        "the issue's URL"
    );
    assert_eq!(search(&mut a, "L9"), [9]);
    let okta = search(&mut a, "okta");
    assert_eq!(okta.len(), 5);
    assert_eq!(search(&mut a, "dark mode"), [33, 25, 17, 9, 1]);
    assert_eq!(search(&mut a, "dash*").len(), 5, "a word prefix with *");
    assert!(search(&mut a, "nothing-like-this").is_empty());
    assert_eq!(message(&a), "no link matches \"nothing-like-this\"");
}

#[test]
fn the_index_follows_renames_and_new_records() {
    let mut a = app(false, Theme::mono());
    // The issue moves team: its key changes, the old one finds nothing.
    a.store
        .write(|db| {
            db.upsert_record(
                Side::Linear,
                &Record {
                    remote_id: issue_id(5),
                    identifier: Some("OPS-9".into()),
                    title: "Slack notifications for status changes #5".into(),
                    url: Some("https://linear.app/acme/issue/OPS-9/slack".into()),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(search(&mut a, "OPS-9"), [5]);
    assert!(search(&mut a, "ENG-104").is_empty());
    let link = a.store.db().link(5).unwrap().unwrap();
    assert_eq!(link.linear_key.as_deref(), Some("OPS-9"));
    assert_eq!(link.label(), format!("{} ↔ OPS-9", post_id(5)));
    // A title edit is found by its new words.
    a.store
        .write(|db| db.set_link_base(5, "Teams notifications", &Default::default()))
        .unwrap();
    assert_eq!(search(&mut a, "teams"), [5]);
    assert!(!search(&mut a, "slack").contains(&5));
}

#[test]
fn pages_of_hits_continue_below_the_last_one() {
    let a = app(false, Theme::mono());
    let db = a.store.db();
    let all = db
        .search_links(&LinkQuery::parse("mode").unwrap(), None, 100)
        .unwrap();
    let page1 = db
        .search_links(&LinkQuery::parse("mode").unwrap(), None, 3)
        .unwrap();
    let page2 = db
        .search_links(
            &LinkQuery::parse("mode").unwrap(),
            page1.last().map(|l| l.id),
            3,
        )
        .unwrap();
    let ids = |v: &[crate::store::Link]| v.iter().map(|l| l.id).collect::<Vec<_>>();
    assert_eq!([ids(&page1), ids(&page2)].concat(), ids(&all)[..6]);
}
