//! Tests of parsing, validating and rendering mapping documents.

use super::*;

fn errs(text: &str) -> Vec<MappingError> {
    match Mapping::parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.0,
    }
}

const MINIMAL: &str = r#"version = 1

[fields.title]
portal = "title"
linear = "title"
"#;

#[test]
fn default_round_trips_through_toml() {
    let m = Mapping::default_canny_linear();
    let text = m.to_toml();
    let back = Mapping::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back, m);
    assert!(text.contains("# title: synced both ways"));
    assert_eq!(
        back.line_of("fields.title"),
        text.lines()
            .position(|l| l == "[fields.title]")
            .map(|i| i + 1)
    );
}

#[test]
fn default_is_valid_against_default_catalog() {
    let m = Mapping::default_canny_linear();
    m.validate_against(&Catalog::canny_linear_default())
        .unwrap();
}

#[test]
fn fider_default_round_trips_and_is_valid_against_fiders_catalog() {
    let m = Mapping::default_for(crate::domain::PortalKind::Fider);
    let text = m.to_toml();
    let back = Mapping::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back, m);
    assert!(text.contains("portal = \"description\"") && text.contains("portal = \"votes\""));
    m.validate_against(&Catalog::fider_linear_default())
        .unwrap();
    let (_, table) = m.status_field().unwrap();
    assert_eq!(
        table.to_portal("Canceled", Some("canceled")),
        Some("declined")
    );
    assert_eq!(
        table.to_portal("In Review", Some("started")),
        Some("started")
    );
    assert_eq!(table.to_portal("Backlog", Some("backlog")), Some("open"));
    assert_eq!(table.to_linear("duplicate"), Some("Duplicate"));
    // Canny's statuses are not Fider's: its default does not fit.
    assert!(
        Mapping::default_canny_linear()
            .validate_against(&Catalog::fider_linear_default())
            .is_err()
    );
}

#[test]
fn design_example_parses() {
    let text = r#"version = 3

[fields.title]
portal = "title"
linear = "title"
direction = "both"
on_conflict = "ask"

[fields.description]
portal = "details"
linear = "description"
direction = "both"
on_conflict = "merge"

[fields.status]
portal = "status"
linear = "state"
direction = "both"
on_conflict = "linear-wins"
notify_voters = ["complete"]
[fields.status.values]
"open" = "Triage"
"under review" = "Backlog"
"planned" = "Todo"
"in progress" = "In Progress"
"complete" = "Done"
"closed" = "Canceled"
[fields.status.from_linear]
backlog = "under review"
unstarted = "planned"
started = "in progress"
completed = "complete"
canceled = "closed"

[fields.labels]
portal = "tags"
linear = "labels"
direction = "both"
on_conflict = "merge"

[fields.votes]
portal = "score"
linear = "priority"
direction = "portal-to-linear"
rule = [ { at_least = 50, value = 2 }, { at_least = 10, value = 3 } ]
"#;
    let m = Mapping::parse(text).unwrap();
    assert_eq!(m.version, 3);
    let names: Vec<&str> = m.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["title", "description", "status", "labels", "votes"]);
    let (_, table) = m.status_field().unwrap();
    assert_eq!(table.values[0], ("open".to_string(), "Triage".to_string()));
    assert_eq!(m.line_of("fields.status.values.planned"), Some(24));
    assert_eq!(Mapping::parse(&m.to_toml()).unwrap(), m);
}

#[test]
fn defaults_direction_both_and_policy_ask() {
    let m = Mapping::parse(MINIMAL).unwrap();
    assert_eq!(m.fields[0].direction, Direction::Both);
    assert_eq!(m.fields[0].on_conflict, Policy::Ask);
}

#[test]
fn syntax_error_has_line() {
    let e = errs("version = 1\n\n[fields.title\nportal = 1\n");
    assert_eq!(e[0].line, Some(3), "{e:?}");
}

#[test]
fn unknown_key_has_line() {
    let e = errs(&format!("{MINIMAL}colour = \"red\"\n"));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line, Some(6), "{e:?}");
    assert!(e[0].message.contains("colour"), "{}", e[0].message);
}

#[test]
fn bad_direction_and_policy_have_lines() {
    let e = errs(&format!("{MINIMAL}direction = \"sideways\"\n"));
    assert_eq!(e[0].line, Some(6));
    assert!(
        e[0].message.contains("sideways") && e[0].message.contains("portal-to-linear"),
        "{}",
        e[0].message
    );
    let e = errs(&format!("{MINIMAL}on_conflict = \"coin-flip\"\n"));
    assert_eq!(e[0].line, Some(6));
    assert!(e[0].message.contains("linear-wins"), "{}", e[0].message);
}

#[test]
fn unknown_field_names_per_side() {
    let e = errs("version = 1\n[fields.x]\nportal = \"upvotes\"\nlinear = \"estimate\"\n");
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].line, Some(3));
    assert!(
        e[0].message.contains("unknown portal field 'upvotes'"),
        "{}",
        e[0].message
    );
    assert!(e[0].message.contains("details"));
    assert_eq!(e[1].line, Some(4));
    assert!(e[1].message.contains("unknown Linear field 'estimate'"));
}

#[test]
fn incompatible_kinds() {
    let e = errs("version = 1\n[fields.x]\nportal = \"tags\"\nlinear = \"title\"\n");
    assert!(
        e[0].message.contains("a set of names") && e[0].message.contains("text"),
        "{}",
        e[0].message
    );
    assert_eq!(e[0].line, Some(4));
}

#[test]
fn votes_rule_cannot_go_both_ways() {
    let text = "version = 1\n[fields.votes]\nportal = \"score\"\nlinear = \"priority\"\ndirection = \"both\"\non_conflict = \"linear-wins\"\nrule = [ { at_least = 10, value = 3 } ]\n";
    let e = errs(text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].line, Some(5));
    assert!(
        e[0].message.contains("cannot be inverted"),
        "{}",
        e[0].message
    );
}

#[test]
fn votes_rule_required_and_checked() {
    let e = errs(
        "version = 1\n[fields.votes]\nportal = \"score\"\nlinear = \"priority\"\ndirection = \"portal-to-linear\"\n",
    );
    assert!(e[0].message.contains("needs a rule"));
    let e = errs(
        "version = 1\n[fields.votes]\nportal = \"score\"\nlinear = \"priority\"\ndirection = \"portal-to-linear\"\nrule = [ { at_least = 10, value = 9 } ]\n",
    );
    assert!(e[0].message.contains("priority 9"), "{}", e[0].message);
    assert_eq!(e[0].line, Some(6));
}

#[test]
fn status_table_problems() {
    let base = "version = 1\n[fields.status]\nportal = \"status\"\nlinear = \"state\"\n";
    // No table at all.
    let e = errs(base);
    assert!(
        e[0].message.contains("no [fields.status.values] table"),
        "{}",
        e[0].message
    );
    assert_eq!(e[0].line, Some(2));
    // Not invertible: two portal statuses on one state.
    let e = errs(&format!(
        "{base}[fields.status.values]\nopen = \"Triage\"\n\"under review\" = \"Triage\"\n"
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].line, Some(7));
    assert!(
        e[0].message.contains("cannot be mapped back"),
        "{}",
        e[0].message
    );
    // ...fine one way.
    Mapping::parse(&format!(
        "{base}direction = \"portal-to-linear\"\n[fields.status.values]\nopen = \"Triage\"\n\"under review\" = \"Triage\"\n"
    ))
    .unwrap();
    // from_linear names a portal status with no mapping.
    let e = errs(&format!(
        "{base}notify_voters = [\"shipped\"]\n[fields.status.values]\nopen = \"Triage\"\n[fields.status.from_linear]\ncompleted = \"shipped\"\n"
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].line, Some(9));
    assert!(
        e[0].message
            .contains("portal status 'shipped', which has no mapping"),
        "{}",
        e[0].message
    );
}

#[test]
fn notify_voters_must_be_known() {
    let e = errs(
        "version = 1\n[fields.status]\nportal = \"status\"\nlinear = \"state\"\nnotify_voters = [\"done\"]\n[fields.status.values]\nopen = \"Triage\"\n",
    );
    assert!(
        e[0].message.contains("'done' is not a portal status"),
        "{}",
        e[0].message
    );
    assert_eq!(e[0].line, Some(5));
}

#[test]
fn misplaced_keys_and_merge_policy() {
    let e = errs(&format!(
        "{MINIMAL}rule = [ {{ at_least = 1, value = 1 }} ]\n"
    ));
    assert!(
        e[0].message.contains("'rule' only applies"),
        "{}",
        e[0].message
    );
    assert_eq!(e[0].line, Some(6));
    let e = errs(
        "version = 1\n[fields.status]\nportal = \"status\"\nlinear = \"state\"\non_conflict = \"merge\"\n[fields.status.values]\nopen = \"Triage\"\n",
    );
    assert!(
        e[0].message.contains("\"merge\" only works"),
        "{}",
        e[0].message
    );
    assert_eq!(e[0].line, Some(5));
}

#[test]
fn duplicate_targets() {
    let e = errs(&format!(
        "{MINIMAL}[fields.name]\nportal = \"title\"\nlinear = \"title\"\n"
    ));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].message.contains("already mapped by fields.title"));
    assert_eq!(e[0].line, Some(6));
}

#[test]
fn votes_line_shares_the_description() {
    let text = "version = 1\n[fields.description]\nportal = \"details\"\nlinear = \"description\"\n[fields.votes]\nportal = \"score\"\nlinear = \"description\"\ndirection = \"portal-to-linear\"\n";
    let m = Mapping::parse(text).unwrap();
    assert_eq!(m.votes_line_prefix(), Some(DEFAULT_VOTES_PREFIX));
    assert_eq!(Mapping::parse(&m.to_toml()).unwrap(), m);
}

#[test]
fn label_names_must_invert_when_two_way() {
    let e = errs(
        "version = 1\n[fields.labels]\nportal = \"tags\"\nlinear = \"labels\"\n[fields.labels.names]\nbug = \"Bug\"\ndefect = \"Bug\"\n",
    );
    assert_eq!(e[0].line, Some(7));
    assert!(e[0].message.contains("cannot be mapped back"));
}

#[test]
fn catalog_validation() {
    let m = Mapping::default_canny_linear();
    let mut cat = Catalog::canny_linear_default();
    cat.portal_statuses.push("shipped".into());
    cat.linear_states.retain(|s| s.name != "Triage");
    cat.linear_states.push(LinearState {
        name: "Parked".into(),
        state_type: "paused".into(),
    });
    let e = m.validate_against(&cat).unwrap_err().0;
    let msgs: Vec<&str> = e.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    assert!(msgs[0].contains("portal status 'shipped' has no mapping"));
    assert!(msgs[1].contains("'open' maps to Linear 'Triage', which is neither"));
    assert!(msgs[2].contains("Linear state 'Parked' (paused) has no portal status"));
    // Parsed mappings point at lines.
    let parsed = Mapping::parse(&m.to_toml()).unwrap();
    let e = parsed.validate_against(&cat).unwrap_err().0;
    assert!(e.iter().all(|e| e.line.is_some()));
}

#[test]
fn catalog_resolves_names_then_types() {
    let cat = Catalog::canny_linear_default();
    assert_eq!(
        cat.resolve_linear_state("todo").map(|s| s.name.as_str()),
        Some("Todo")
    );
    assert_eq!(
        cat.resolve_linear_state("started").map(|s| s.name.as_str()),
        Some("In Progress")
    );
    assert!(cat.resolve_linear_state("nope").is_none());
}

#[test]
fn errors_display_with_lines() {
    let e = Mapping::parse("version = 0\n").unwrap_err();
    assert_eq!(e.to_string(), "line 1: version must be 1 or more, not 0");
}

#[test]
fn default_document_snapshot() {
    insta::assert_snapshot!(Mapping::default_canny_linear().to_toml());
}
