//! The crate's layers: a module imports only modules below it, so the
//! import graph has no cycle and the domain core at the bottom depends on
//! nothing. This reads every `crate::` path in `src/` (in `use` lines and
//! inline) and holds the declared order; a new top-level module must be
//! given its place here.

use std::collections::BTreeSet;
use std::path::Path;

/// Bottom first. A module may import only the modules listed before it.
const LAYERS: &[&str] = &[
    "domain",
    "screen",
    "clock",
    "secret",
    "storage",
    "telemetry",
    "audit",
    "vault",
    "platforms",
    "inbox",
    "identity",
    "directory",
    "queue",
    "policy",
    "auth",
    "action",
    "review",
    "templates",
    "breakglass",
    "moderation",
    "proxy",
    "config",
    "http",
    "app",
    "cli",
    "lib",
    "main",
];

/// Every top-level module `file` (under `src/`) belongs to.
fn module_of(file: &Path) -> String {
    let first = file.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned());
    first.unwrap_or_default().trim_end_matches(".rs").to_owned()
}

/// The top-level modules named by `crate::` paths in `source`, `use` trees included.
fn imports(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in source.match_indices("crate::") {
        // `use crate::{a::X, b::Y}`: every module in the braces.
        let rest = &source[at + "crate::".len()..];
        if let Some(tree) = rest.strip_prefix('{') {
            let end = closing_brace(tree);
            for item in split_top_level(&tree[..end]) {
                found.insert(first_segment(item.trim()));
            }
        } else {
            found.insert(first_segment(rest));
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

fn first_segment(path: &str) -> String {
    path.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

fn closing_brace(tree: &str) -> usize {
    let mut depth = 0;
    for (i, c) in tree.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    tree.len()
}

fn split_top_level(tree: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in tree.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&tree[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&tree[start..]);
    parts
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// (importing module, imported module, file) for every import in `src/`.
fn edges() -> Vec<(String, String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut edges = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap().to_path_buf();
        let from = module_of(&relative);
        for to in imports(&std::fs::read_to_string(&file).unwrap()) {
            if to != from {
                edges.push((from.clone(), to, relative.display().to_string()));
            }
        }
    }
    edges
}

fn layer(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|m| *m == module)
        .unwrap_or_else(|| panic!("module `{module}` has no layer: give it its place in tests/it/layers.rs"))
}

#[test]
fn imports_only_point_down_the_layers() {
    let mut wrong: Vec<String> = edges()
        .into_iter()
        .filter(|(from, to, _)| layer(to) >= layer(from))
        .map(|(from, to, file)| format!("{file}: `{from}` imports `{to}`, which is not below it"))
        .collect();
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "imports running up the layers:\n{}", wrong.join("\n"));
}

#[test]
fn the_domain_core_imports_nothing_of_the_crate() {
    let offending: Vec<_> = edges().into_iter().filter(|(from, _, _)| from == "domain").collect();
    assert!(offending.is_empty(), "the domain core imports {offending:?}");
}

/// Every file under `src/` that names `word` (as a whole identifier).
fn files_naming(word: &str) -> BTreeSet<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    files
        .into_iter()
        .filter(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            text.match_indices(word).any(|(at, _)| {
                let before = text[..at].chars().next_back();
                let after = text[at + word.len()..].chars().next();
                !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
            })
        })
        .map(|file| file.strip_prefix(&src).unwrap().display().to_string())
        .collect()
}

#[test]
fn only_the_action_path_holds_the_dispatcher() {
    // It is defined in platforms, built at start-up and handed to the path,
    // which calls it only for a recorded action.
    let expected = BTreeSet::from(["action/mod.rs".into(), "app.rs".into(), "platforms/dispatch.rs".into()]);
    assert_eq!(files_naming("Dispatcher"), expected);
}

#[test]
fn only_moderation_holds_the_inbound_handle() {
    // Made by the dispatcher at start-up and handed to moderation: it
    // reads posts and comments, and hides or shows a comment only given the
    // journal's receipt of the decision.
    let expected = BTreeSet::from(["moderation/mod.rs".into(), "platforms/dispatch.rs".into()]);
    assert_eq!(files_naming("InboundCalls"), expected);
}

#[test]
fn only_the_action_path_holds_the_connector() {
    // Connecting and disconnecting call platforms: the path permits them
    // first, and hands only its permit on.
    let expected = BTreeSet::from([
        "action/connect.rs".into(),
        "action/mod.rs".into(),
        "app.rs".into(),
        "platforms/connect/mod.rs".into(),
    ]);
    assert_eq!(files_naming("Connector"), expected);
}

#[test]
fn the_import_reader_sees_use_trees_and_inline_paths() {
    let found =
        imports("use crate::{audit::{Journal, Actor}, clock::Timestamp};\nlet x = crate::vault::open();");
    assert_eq!(found, BTreeSet::from(["audit".into(), "clock".into(), "vault".into()]));
}

#[test]
fn each_public_type_name_is_defined_once() {
    // "Which Grant is this?" should never need asking: a public type's name
    // says what it is wherever it is read.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut defined: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines() {
            let line = line.trim_start();
            let Some(rest) = line.strip_prefix("pub ") else { continue };
            let rest = ["struct ", "enum ", "trait ", "type "].iter().find_map(|k| rest.strip_prefix(k));
            let Some(rest) = rest else { continue };
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let at = file.strip_prefix(&src).unwrap().display().to_string();
            defined.entry(name).or_default().push(at);
        }
    }
    let twice: Vec<String> = defined
        .into_iter()
        .filter(|(_, at)| at.len() > 1)
        .map(|(name, at)| format!("{name}: {}", at.join(", ")))
        .collect();
    assert!(twice.is_empty(), "public type names defined more than once:\n{}", twice.join("\n"));
}
