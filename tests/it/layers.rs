//! The shape of the code, held as a test: no two files of `src/` import each other, directly
//! or round a circle. A file's references to the modules that contain it (a child naming its
//! parent's items) are not counted: the parent is the child's room, not its neighbour.
//! Test code (`#[cfg(test)]` modules) is left out: tests may reach across.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's top modules; every other top module is the binary's.
const LIB: &[&str] = &["analytics", "codec", "hostile", "ml", "named", "streams"];

/// A source file: its crate ("lib" or "bin") and module path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Module {
    krate: &'static str,
    path: Vec<String>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn module_of(rel: &Path) -> Option<Module> {
    let mut path: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if path.last().is_some_and(|l| l == "mod") {
        path.pop();
    }
    if path == ["lib"] || path == ["main"] {
        return None;
    }
    let krate = if LIB.contains(&path[0].as_str()) {
        "lib"
    } else {
        "bin"
    };
    Some(Module { krate, path })
}

/// The text without its test modules (from a `#[cfg(test)]` that opens a `mod` to the end
/// of the file: test modules come last).
fn without_tests(text: &str) -> &str {
    let mut at = 0;
    while let Some(i) = text[at..].find("#[cfg(test)]") {
        let start = at + i;
        let rest = text[start + "#[cfg(test)]".len()..].trim_start();
        if rest.starts_with("mod ") || rest.starts_with("pub(crate) mod ") {
            return &text[..start];
        }
        at = start + 1;
    }
    text
}

/// The `a::b::c` path at the start of `text` (identifiers joined by `::`).
fn path_at(text: &str) -> Vec<String> {
    let mut path = Vec::new();
    for seg in text.split("::") {
        let ident: String = seg
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            break;
        }
        let whole = ident.len() == seg.len();
        path.push(ident);
        if !whole {
            break;
        }
    }
    path
}

/// The paths a `use` group opens (`{a::X, b}` after `prefix::`), one level deep.
fn group_at(text: &str) -> Vec<Vec<String>> {
    let Some(body) = text.strip_prefix('{') else {
        return Vec::new();
    };
    let end = body.find('}').unwrap_or(body.len());
    body[..end]
        .split(',')
        .map(|item| path_at(item.trim()))
        .filter(|p| !p.is_empty())
        .collect()
}

/// Every `crate::a::b`, `super::a` and `streamwatch::a::b` path the text names (also inside
/// a `use` group), as module paths in their crate.
fn references(m: &Module, text: &str) -> Vec<(&'static str, Vec<String>)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    for head in ["crate::", "super::", "streamwatch::"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(head) {
            let start = from + i;
            from = start + head.len();
            let before = start.checked_sub(1).map(|j| bytes[j]);
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':') {
                continue;
            }
            let mut prefix = path_at(&text[from..]);
            let after: usize = prefix.iter().map(|s| s.len() + 2).sum();
            // `super::super::x`: each `super` climbs one module.
            let (krate, base) = match head {
                "crate::" => (m.krate, Vec::new()),
                "streamwatch::" => ("lib", Vec::new()),
                _ => {
                    let mut base = m.path[..m.path.len() - 1].to_vec();
                    while prefix.first().is_some_and(|s| s == "super") {
                        base.pop();
                        prefix.remove(0);
                    }
                    (m.krate, base)
                }
            };
            let rest = text.get(from + after..).unwrap_or("");
            let mut paths = group_at(rest.trim_start());
            if paths.is_empty() {
                paths.push(Vec::new());
            }
            for p in paths {
                let mut full = base.clone();
                full.extend(prefix.iter().cloned());
                full.extend(p);
                out.push((krate, full));
            }
        }
    }
    out
}

/// The file's imports: each referenced path's longest prefix that is a module, less its
/// own ancestors and itself.
fn imports(modules: &BTreeSet<Module>, m: &Module, text: &str) -> BTreeSet<Module> {
    let mut out = BTreeSet::new();
    for (krate, path) in references(m, text) {
        let target = (1..=path.len()).rev().find_map(|n| {
            let t = Module {
                krate,
                path: path[..n].to_vec(),
            };
            modules.contains(&t).then_some(t)
        });
        let Some(t) = target else { continue };
        let ancestor = t.krate == m.krate && m.path.starts_with(&t.path);
        if !ancestor {
            out.insert(t);
        }
    }
    out
}

/// The strongly connected components of more than one file (Tarjan).
fn circles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'g> {
        graph: &'g BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'g Module, usize>,
        low: BTreeMap<&'g Module, usize>,
        stack: Vec<&'g Module>,
        found: Vec<Vec<Module>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g Module) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        for w in s.graph.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.stack.contains(&w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                s.found.push(comp);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn no_two_files_of_src_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let parsed: Vec<(Module, String)> = files
        .iter()
        .filter_map(|f| {
            let rel = f.strip_prefix(&src).ok()?;
            let text = std::fs::read_to_string(f).ok()?;
            Some((module_of(rel)?, text))
        })
        .collect();
    assert!(
        parsed.len() > 50,
        "read {} files of {}",
        parsed.len(),
        src.display()
    );
    let modules: BTreeSet<Module> = parsed.iter().map(|(m, _)| m.clone()).collect();
    let graph: BTreeMap<Module, BTreeSet<Module>> = parsed
        .iter()
        .map(|(m, text)| (m.clone(), imports(&modules, m, without_tests(text))))
        .collect();
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(
        edges > 100,
        "only {edges} imports found: the reader is broken"
    );
    let found: Vec<String> = circles(&graph)
        .iter()
        .map(|c| {
            let names: Vec<String> = c.iter().map(|m| m.path.join("/")).collect();
            names.join(" ⇄ ")
        })
        .collect();
    assert!(found.is_empty(), "import circles in src/: {found:?}");
}

#[test]
fn the_reader_finds_a_circle_where_there_is_one() {
    let modules: BTreeSet<Module> = ["a", "b"]
        .iter()
        .map(|n| Module {
            krate: "bin",
            path: vec![(*n).to_string()],
        })
        .collect();
    let a = Module {
        krate: "bin",
        path: vec!["a".into()],
    };
    let b = Module {
        krate: "bin",
        path: vec!["b".into()],
    };
    let graph = BTreeMap::from([
        (a.clone(), imports(&modules, &a, "use crate::b::Thing;")),
        (b.clone(), imports(&modules, &b, "fn f() { super::a::g() }")),
    ]);
    assert_eq!(circles(&graph).len(), 1);
    let test_only = "#[cfg(test)]\nmod tests { use crate::b::X; }";
    assert!(imports(&modules, &a, without_tests(test_only)).is_empty());
}
