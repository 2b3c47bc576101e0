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

/// First path segments named by a `use` tail: "a::b" → [a], "{a, b::c}" → [a, b].
fn segments(rest: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    match rest.strip_prefix('{') {
        Some(inner) => {
            let inner = inner.split('}').next().unwrap_or("");
            inner
                .split(',')
                .map(ident)
                .filter(|s| !s.is_empty())
                .collect()
        }
        None => vec![ident(rest)]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect(),
    }
}

/// The console modules a file depends on through its `use` lines and
/// `crate::console::` paths, as top-level module names ("" is the console
/// root, for items such as `open_store` defined there).
fn imports(file_module: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let parts: Vec<&str> = file_module.split("::").filter(|p| !p.is_empty()).collect();
    // `super` of a top-level module is the console root; of a nested one,
    // its directory's module.
    let parent = if parts.len() <= 1 { "" } else { parts[0] };
    let mut out = BTreeSet::new();
    let add = |name: String, base: &str, out: &mut BTreeSet<String>| {
        if base.is_empty() && modules.contains(&name) {
            out.insert(name);
        } else {
            out.insert(base.to_string());
        }
    };
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("//") {
            continue;
        }
        for (i, _) in t.match_indices("crate::console::") {
            for name in segments(&t[i + "crate::console::".len()..]) {
                add(name, "", &mut out);
            }
        }
        if let Some(rest) = t.strip_prefix("use super::") {
            for name in segments(rest) {
                add(name, parent, &mut out);
            }
        }
        if file_module.is_empty()
            && let Some(rest) = t.strip_prefix("use ")
        {
            for name in segments(rest) {
                if modules.contains(&name) {
                    out.insert(name);
                }
            }
        }
    }
    out
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
    // Depth-first search for a cycle among the console's modules.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(n) {
            return;
        }
        if let Some(i) = path.iter().position(|p| p == n) {
            panic!("import cycle: {} -> {n}", path[i..].join(" -> "));
        }
        path.push(n.to_string());
        for d in g.get(n).into_iter().flatten() {
            visit(d, g, path, done);
        }
        path.pop();
        done.insert(n.to_string());
    }
    let mut done = BTreeSet::new();
    for n in g.keys() {
        visit(n, &g, &mut Vec::new(), &mut done);
    }
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
