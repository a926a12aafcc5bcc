//! Resolving the paths written in a body to the items they name, as far as tokens allow.
//!
//! A macro sees only its fn, so the `use` items of the surrounding module come from the
//! source file (read once per file and compilation, see [`crate::source_text`]). A name is
//! resolved through, in order: a `use` inside the fn body, a `use` of the fn's module, an
//! item of that module (then it is the user's own: never flagged), a crate root. Anything
//! else stays as written and is matched by the catalogue's two-segment fallback.

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use syn::visit::Visit;
use syn::{Item, UseTree};

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Something of the user's crate (`crate::`, `self::`, an item of the module, a local
    /// binding): never flagged.
    Local,
    /// A path into another crate (or not resolvable: then as written).
    Foreign {
        segments: Vec<String>,
        /// Whether a `use` item supplied the first segment (the path is then complete).
        via_use: bool,
    },
}

/// The names visible in the fn's module that matter for resolution.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    /// `Clock` -> `std::time::SystemTime`; a target of `None` points into the user's crate.
    aliases: HashMap<String, Option<Vec<String>>>,
    /// `use std::time::*` prefixes (foreign only).
    globs: Vec<Vec<String>>,
    /// Items declared in the module (fns, types, modules, macros, consts, ...).
    items: HashSet<String>,
}

impl Scope {
    /// The scope of the module that declares `fn_name` in `source` (the file's text). If the
    /// fn cannot be found, the scope is empty: nothing extra is resolved.
    pub fn for_fn(source: Option<&str>, fn_name: &str) -> Scope {
        source
            .and_then(|source| scopes_cached(source).get(fn_name).cloned())
            .unwrap_or_default()
    }

    /// The scope of every fn (and method) declared in `file`, by name. Where one name is
    /// declared in several places, the aliases on which they disagree are dropped.
    fn of_file(file: &syn::File) -> HashMap<String, Scope> {
        let mut found = Found::default();
        found.walk(&file.items, &Scope::default());
        for (name, aliases) in found.conflicts {
            if let Some(scope) = found.scopes.get_mut(&name) {
                for alias in aliases {
                    scope.aliases.remove(&alias);
                }
            }
        }
        found.scopes
    }

    /// The names declared by `items` (one module, or a block).
    pub fn of_items<'a>(items: impl IntoIterator<Item = &'a Item>) -> Scope {
        let mut scope = Scope::default();
        for item in items {
            scope.add_item(item);
        }
        scope
    }

    /// Adds one item's names (a `use`, or a declaration).
    pub fn add_item(&mut self, item: &Item) {
        let name = match item {
            Item::Use(u) => {
                self.add_use(&u.tree, Vec::new());
                return;
            }
            Item::Const(i) => Some(&i.ident),
            Item::Enum(i) => Some(&i.ident),
            Item::ExternCrate(i) => {
                let name = i.rename.as_ref().map_or(&i.ident, |(_, r)| r).to_string();
                if name != "_" {
                    self.aliases.insert(name, Some(vec![i.ident.to_string()]));
                }
                return;
            }
            Item::Fn(i) => Some(&i.sig.ident),
            Item::Macro(i) => i.ident.as_ref(),
            Item::Mod(i) => Some(&i.ident),
            Item::Static(i) => Some(&i.ident),
            Item::Struct(i) => Some(&i.ident),
            Item::Trait(i) => Some(&i.ident),
            Item::TraitAlias(i) => Some(&i.ident),
            Item::Type(i) => Some(&i.ident),
            Item::Union(i) => Some(&i.ident),
            _ => None,
        };
        if let Some(name) = name {
            self.items.insert(name.to_string());
        }
    }

    fn add_use(&mut self, tree: &UseTree, prefix: Vec<String>) {
        match tree {
            UseTree::Path(p) => {
                let mut prefix = prefix;
                prefix.push(p.ident.to_string());
                self.add_use(&p.tree, prefix);
            }
            UseTree::Name(n) => {
                let name = n.ident.to_string();
                let (alias, target) = if name == "self" {
                    match prefix.last() {
                        Some(last) => (last.clone(), prefix.clone()),
                        None => return,
                    }
                } else {
                    let mut target = prefix;
                    target.push(name.clone());
                    (name, target)
                };
                self.alias(alias, target);
            }
            UseTree::Rename(r) => {
                let alias = r.rename.to_string();
                if alias == "_" {
                    return;
                }
                let mut target = prefix;
                if r.ident != "self" {
                    target.push(r.ident.to_string());
                }
                self.alias(alias, target);
            }
            UseTree::Glob(_) => {
                if !is_local_root(prefix.first()) {
                    self.globs.push(prefix);
                }
            }
            UseTree::Group(g) => {
                for tree in &g.items {
                    self.add_use(tree, prefix.clone());
                }
            }
        }
    }

    fn alias(&mut self, alias: String, target: Vec<String>) {
        let target = if is_local_root(target.first()) {
            None
        } else {
            Some(target)
        };
        self.aliases.insert(alias, target);
    }

    /// Adds the names of another scope (a block's `use` items shadow the module's).
    pub fn extend(&mut self, inner: &Scope) {
        for (alias, target) in &inner.aliases {
            self.aliases.insert(alias.clone(), target.clone());
        }
        self.globs.extend(inner.globs.iter().cloned());
        self.items.extend(inner.items.iter().cloned());
    }

    /// Resolves a path as written (`leading_colon` for `::a::b`). `is_local_binding` says
    /// whether a one-segment name is a local variable.
    pub fn resolve(&self, path: &syn::Path, is_local_binding: bool) -> Resolved {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let Some(first) = segments.first() else {
            return Resolved::Local;
        };
        if path.leading_colon.is_some() {
            return Resolved::Foreign {
                segments,
                via_use: true,
            };
        }
        if is_local_root(Some(first)) || (segments.len() == 1 && is_local_binding) {
            return Resolved::Local;
        }
        if let Some(target) = self.aliases.get(first) {
            return match target {
                None => Resolved::Local,
                Some(target) => {
                    let mut full = target.clone();
                    full.extend(segments[1..].iter().cloned());
                    Resolved::Foreign {
                        segments: full,
                        via_use: true,
                    }
                }
            };
        }
        if self.items.contains(first) {
            return Resolved::Local;
        }
        Resolved::Foreign {
            segments,
            via_use: false,
        }
    }

    /// Complete paths the glob imports could make of an unresolved `segments`.
    pub fn glob_candidates(&self, segments: &[String]) -> Vec<Vec<String>> {
        self.globs
            .iter()
            .map(|glob| glob.iter().chain(segments).cloned().collect())
            .collect()
    }
}

fn is_local_root(first: Option<&String>) -> bool {
    matches!(
        first.map(String::as_str),
        Some("crate" | "self" | "super" | "Self")
    )
}

/// The scopes found while walking a file.
#[derive(Default)]
struct Found {
    scopes: HashMap<String, Scope>,
    conflicts: HashMap<String, HashSet<String>>,
}

impl Found {
    /// Records the scope of the fns declared in `items` (a module, or the top of a fn body,
    /// which also sees `inherited`: the names around that fn), then walks nested modules
    /// (which start afresh: a module sees none of its parent's names) and fn bodies.
    fn walk(&mut self, items: &[Item], inherited: &Scope) {
        let mut here = inherited.clone();
        here.extend(&Scope::of_items(items));
        for name in declared_fns(items) {
            self.merge(name, &here);
        }
        for item in items {
            match item {
                Item::Mod(m) => {
                    if let Some((_, inner)) = &m.content {
                        self.walk(inner, &Scope::default());
                    }
                }
                Item::Fn(f) => {
                    let nested: Vec<Item> = f
                        .block
                        .stmts
                        .iter()
                        .filter_map(|stmt| match stmt {
                            syn::Stmt::Item(item) => Some(item.clone()),
                            _ => None,
                        })
                        .collect();
                    if !nested.is_empty() {
                        self.walk(&nested, &here);
                    }
                }
                _ => {}
            }
        }
    }

    fn merge(&mut self, name: String, scope: &Scope) {
        let Some(existing) = self.scopes.get_mut(&name) else {
            self.scopes.insert(name, scope.clone());
            return;
        };
        for (alias, target) in &scope.aliases {
            match existing.aliases.get(alias) {
                Some(known) if known != target => {
                    self.conflicts
                        .entry(name.clone())
                        .or_default()
                        .insert(alias.clone());
                }
                _ => {
                    existing.aliases.insert(alias.clone(), target.clone());
                }
            }
        }
        existing.globs.extend(scope.globs.iter().cloned());
        existing.items.extend(scope.items.iter().cloned());
    }
}

/// The fns a module declares directly, and the methods of its impls.
fn declared_fns(items: &[Item]) -> Vec<String> {
    let mut names = Vec::new();
    for item in items {
        match item {
            Item::Fn(f) => names.push(f.sig.ident.to_string()),
            Item::Impl(i) => names.extend(i.items.iter().filter_map(|ii| match ii {
                syn::ImplItem::Fn(m) => Some(m.sig.ident.to_string()),
                _ => None,
            })),
            _ => {}
        }
    }
    names
}

thread_local! {
    /// Scopes by file content hash: a file is parsed once per compilation however many
    /// annotated fns it holds, and again once edited. Only plain strings are kept: the
    /// parsed tokens belong to one macro invocation and must not outlive it.
    static FILES: RefCell<HashMap<u64, Rc<HashMap<String, Scope>>>> = RefCell::new(HashMap::new());
}

fn scopes_cached(source: &str) -> Rc<HashMap<String, Scope>> {
    let mut hasher = DefaultHasher::new();
    source.hash(&mut hasher);
    let key = hasher.finish();
    FILES.with(|files| {
        Rc::clone(files.borrow_mut().entry(key).or_insert_with(|| {
            let scopes = syn::parse_file(source)
                .map(|file| Scope::of_file(&file))
                .unwrap_or_default();
            Rc::new(scopes)
        }))
    })
}

/// The `use` items and item names declared directly in a block (not in nested blocks).
pub fn block_scope(block: &syn::Block) -> Scope {
    let items = block.stmts.iter().filter_map(|s| match s {
        syn::Stmt::Item(item) => Some(item),
        _ => None,
    });
    Scope::of_items(items)
}

/// Names bound by a pattern (`x`, `(a, mut b)`, `Point { x, .. }`).
pub fn bindings(pat: &syn::Pat) -> Vec<String> {
    struct Collect(Vec<String>);
    impl<'ast> Visit<'ast> for Collect {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.0.push(p.ident.to_string());
            syn::visit::visit_pat_ident(self, p);
        }
    }
    let mut collect = Collect(Vec::new());
    collect.visit_pat(pat);
    collect.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(source: &str, path: &str) -> Resolved {
        let scope = Scope::for_fn(Some(source), "flow");
        scope.resolve(&syn::parse_str(path).unwrap(), false)
    }

    fn foreign(path: &str, via_use: bool) -> Resolved {
        Resolved::Foreign {
            segments: path.split("::").map(String::from).collect(),
            via_use,
        }
    }

    #[test]
    fn paths_resolve_aliases_of_the_fns_module() {
        let source = r"
            use std::time::SystemTime as Clock;
            use std::{thread::{self, sleep as nap}, env};
            use crate::local::Thing;
            mod now_helpers { pub fn now() {} }
            async fn flow() {}
            mod inner { use tokio::time::sleep as Clock; fn other() {} }
        ";
        assert_eq!(
            resolve(source, "Clock::now"),
            foreign("std::time::SystemTime::now", true)
        );
        assert_eq!(resolve(source, "nap"), foreign("std::thread::sleep", true));
        assert_eq!(
            resolve(source, "thread::spawn"),
            foreign("std::thread::spawn", true)
        );
        assert_eq!(resolve(source, "env::var"), foreign("std::env::var", true));
        assert_eq!(resolve(source, "Thing::now"), Resolved::Local);
        assert_eq!(resolve(source, "now_helpers::now"), Resolved::Local);
        assert_eq!(resolve(source, "crate::x::now"), Resolved::Local);
        assert_eq!(
            resolve(source, "Instant::now"),
            foreign("Instant::now", false)
        );
    }

    #[test]
    fn paths_use_the_innermost_module_only() {
        let source = r"
            use std::time::SystemTime as Clock;
            mod inner { use tokio::time::Instant as Clock; async fn flow() {} }
        ";
        assert_eq!(
            resolve(source, "Clock::now"),
            foreign("tokio::time::Instant::now", true)
        );
    }

    #[test]
    fn paths_see_the_block_around_a_nested_fn() {
        let source = r"
            use std::time::Instant;
            fn test_case() {
                use std::time::SystemTime as Clock;
                async fn flow() {}
            }
        ";
        assert_eq!(
            resolve(source, "Clock::now"),
            foreign("std::time::SystemTime::now", true)
        );
        assert_eq!(
            resolve(source, "Instant::now"),
            foreign("std::time::Instant::now", true)
        );
    }

    #[test]
    fn paths_without_a_source_stay_as_written() {
        let scope = Scope::for_fn(None, "flow");
        let path = syn::parse_str("Clock::now").unwrap();
        assert_eq!(scope.resolve(&path, false), foreign("Clock::now", false));
        assert_eq!(
            scope.resolve(&syn::parse_str("now").unwrap(), true),
            Resolved::Local
        );
    }
}
