//! The console's structure, checked from its source: the types module is a
//! leaf, the modules form no import cycle, views and dialogs never see the
//! app, and no dialog types its own key hints.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "tests") {
                sources(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Module name of a file under src/console ("views::jobs", "app", "").
fn module(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .filter(|c| c != "mod")
        .collect();
    parts.join("::")
}

/// The items a path tail names first: "a::b" → [a], "{a, b::{c, d}}" → [a, b]
/// (braces may span lines, since the text has its comments removed and its
/// lines joined).
fn segments(rest: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(inner) = rest.trim_start().strip_prefix('{') else {
        return Some(ident(rest))
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
    };
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut item = String::new();
    for ch in inner.chars() {
        match ch {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(ident(&item));
                item.clear();
                continue;
            }
            _ => {}
        }
        item.push(ch);
    }
    out.push(ident(&item));
    out.retain(|s| !s.is_empty());
    out
}

/// The source without comments, its lines joined by spaces.
fn code(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The console modules a file depends on through `use` statements and
/// inline `crate::console::` and `super::` paths, as top-level module names
/// ("" is the console root, for items such as `open_store` defined there).
fn imports(file_module: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let parts: Vec<&str> = file_module.split("::").filter(|p| !p.is_empty()).collect();
    let code = code(text);
    let mut out = BTreeSet::new();
    let mut add = |names: Vec<String>, base: &str| {
        for name in names {
            if base.is_empty() && modules.contains(&name) {
                out.insert(name);
            } else {
                out.insert(base.to_string());
            }
        }
    };
    for (i, _) in code.match_indices("crate::console::") {
        add(segments(&code[i + "crate::console::".len()..]), "");
    }
    for (i, _) in code.match_indices("super::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue; // the second `super` of a chain, or part of a longer name
        }
        // `super::super::…` climbs once per `super`; a top-level file's
        // parent is the console root, a nested one's is its directory.
        let mut rest = &code[i..];
        let mut up = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            rest = r;
            up += 1;
        }
        let depth = parts.len().saturating_sub(up);
        let base = parts
            .get(..depth)
            .and_then(|p| p.first())
            .copied()
            .unwrap_or("");
        add(segments(rest), base);
    }
    if file_module.is_empty() {
        for stmt in code.split(';') {
            if let Some(rest) = stmt.trim_start().strip_prefix("use ") {
                let names = segments(rest);
                out.extend(names.into_iter().filter(|n| modules.contains(n)));
            }
        }
    }
    out
}

/// A cycle in the module graph, as the path that closes it.
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if done.contains(n) {
            return None;
        }
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut cycle = path[i..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        path.push(n.to_string());
        for d in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|n| visit(n, g, &mut Vec::new(), &mut done))
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| {
            module(&root, f)
                .split("::")
                .next()
                .unwrap_or("")
                .to_string()
        })
        .filter(|m| !m.is_empty())
        .collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let m = module(&root, &f);
        let top = m.split("::").next().unwrap_or("").to_string();
        let text = std::fs::read_to_string(&f).unwrap();
        let deps = imports(&m, &text, &modules);
        let entry = g.entry(top.clone()).or_default();
        for d in deps {
            if d != top {
                entry.insert(d);
            }
        }
    }
    g
}

#[test]
fn types_is_a_leaf_and_the_console_has_no_import_cycle() {
    let g = graph();
    assert!(g.contains_key("types"), "{g:?}");
    assert!(g["types"].is_empty(), "types imports {:?}", g["types"]);
    if let Some(cycle) = find_cycle(&g) {
        panic!("import cycle: {}", cycle.join(" -> "));
    }
}

/// The checker itself: every way a file can name a sibling is seen, and a
/// cycle is found, so the test above can fail.
#[test]
fn the_import_check_sees_every_way_of_naming_a_module() {
    let modules: BTreeSet<String> = ["app", "keymap", "types", "views", "clock", "pager"]
        .into_iter()
        .map(String::from)
        .collect();
    let text = "use crate::console::{\n    keymap::{self, Binding},\n    types::Cmd,\n};\n\
                // use crate::console::app;\n\
                fn f() { super::clock::now(); }\n";
    let got = imports("views::jobs", text, &modules);
    let want: BTreeSet<String> = ["keymap", "types", "views"].map(String::from).into();
    assert_eq!(got, want);
    let got = imports("ui", "let x = super::pager::CHUNK;", &modules);
    assert_eq!(got, ["pager".to_string()].into());
    let got = imports("views::jobs", "use super::super::app::App;", &modules);
    assert_eq!(got, ["app".to_string()].into());
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("app", vec!["keymap"]),
        ("keymap", vec!["views"]),
        ("views", vec!["app"]),
        ("types", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(
        find_cycle(&g),
        Some(["app", "keymap", "views", "app"].map(String::from).to_vec())
    );
}

#[test]
fn views_and_dialogs_never_see_the_app_or_each_other() {
    let g = graph();
    for (m, forbidden) in [
        ("views", &["app", "dialogs", "ui", "effects"][..]),
        ("dialogs", &["app", "views", "ui", "effects"][..]),
        ("keymap", &["app", "views", "dialogs"][..]),
        ("command", &["app", "views", "dialogs", "keymap"][..]),
    ] {
        for f in forbidden {
            assert!(!g[m].contains(*f), "{m} imports {f}: {:?}", g[m]);
        }
    }
}

#[test]
fn no_dialog_or_view_types_a_key_hint_by_hand() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console");
    let mut files = Vec::new();
    sources(&root.join("dialogs"), &mut files);
    sources(&root.join("views"), &mut files);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for typed in [
            "\"y yes",
            "Esc close",
            "Esc closes",
            "^S ",
            "[f]",
            "[c]",
            "press e",
        ] {
            assert!(!text.contains(typed), "{} types {typed:?}", f.display());
        }
    }
}

/// The console changes the store in one place, `effects.rs`, and only by
/// calling the operator-actions module (`src/ops`), the same code as the CLI.
#[test]
fn the_console_writes_only_through_effects_and_ops() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut writes = 0;
    for f in files {
        let name = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if name == "bench.rs" {
            continue; // the P4 store filler, not the console
        }
        let text = code(&std::fs::read_to_string(&f).unwrap());
        let text = text.split("#[cfg(test)]").next().unwrap_or("");
        for pat in [
            "store.write(",
            "store.write_durable(",
            ".transaction(",
            ".execute(",
        ] {
            for (i, _) in text.match_indices(pat) {
                assert_eq!(name, "effects.rs", "{name} writes to the store ({pat})");
                let call = &text[i..(i + 80).min(text.len())];
                assert!(
                    call.contains("ops::"),
                    "effects.rs writes without src/ops: {call}"
                );
                writes += 1;
            }
        }
    }
    assert!(writes >= 5, "found only {writes} writes in effects.rs");
}
