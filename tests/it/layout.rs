//! The crate's layout, held by tests (issue 13).
//!
//! A layout kept by discipline alone drifts back: a file grows past what
//! can be read at once, a storage module reaches up for a clap type, an
//! engine branch with its own SQL lands outside `db/`. These tests read
//! the sources with `syn`, the parser procedural macros use (the project
//! does not parse Rust by hand), and hold one rule each. A failure lists
//! every violation with its file and line, so a failing run is a checklist.
//!
//! They see the code as written. Paths are resolved the way `use` resolves
//! them (`crate::`, `self::`, `super::`, and names at the crate root), a
//! re-export in `lib.rs` is followed to its module, and macro arguments are
//! read as tokens, where a path is `a :: b` however it is spelled. What a
//! macro generates is not seen, nor an item reached through a glob import.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use proc_macro2::{Spacing, Span, TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

/// The library's top-level modules, top to bottom: each may import only
/// the modules below it. A module missing here fails the test, so a new
/// one takes its place in the order on purpose.
const LAYERS: &[&str] = &[
    "cmd", "cli", "shell", "change", "impact", "sql", "policy", "undo", "journal", "db", "schema",
    "model", "error", "crash",
];

/// Where clap's types may be named: the definitions and the command layer.
const CLI_HOMES: &[&str] = &["src/cli/", "src/cmd/", "src/main.rs"];

/// Where engine-specific code belongs; engine branches elsewhere are counted.
const ENGINE_HOMES: &[&str] = &["src/db/", "src/sql/"];

const MAX_FILE_LINES: usize = 1000;
const MAX_FN_LINES: usize = 200;
const MAX_ENGINE_BRANCHES: usize = 15;

/// Uppercase words that make a string literal SQL.
const SQL_KEYWORDS: &[&str] = &[
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP", "PRAGMA", "WITH", "COPY",
    "BEGIN",
];

/// A file is read as a whole; past 1,000 lines it holds more than one
/// concern. Rust files only: snapshots and fixtures are data.
#[test]
fn layout_no_file_over_1000_lines() {
    let mut found = Vec::new();
    for (rel, text) in read(&["src", "tests", "benches"]) {
        let n = text.lines().count();
        if n > MAX_FILE_LINES {
            found.push(format!("{rel}: {n} lines"));
        }
    }
    assert_none(&format!("files over {MAX_FILE_LINES} lines"), &found);
}

/// A function is read at once; 200 lines, from `fn` to the closing brace,
/// is the hard limit (the aim is far lower). Methods and trait defaults
/// count; closures belong to their function.
#[test]
fn layout_no_function_over_200_lines() {
    let mut found = Vec::new();
    for (rel, text) in read(&["src", "tests", "benches"]) {
        let mut lengths = FnLengths {
            rel: &rel,
            owner: Vec::new(),
            found: &mut found,
        };
        lengths.visit_file(&parse(&rel, &text));
    }
    assert_none(&format!("functions over {MAX_FN_LINES} lines"), &found);
}

/// clap's types stay in the command layer: the library takes options of
/// its own, so it can be driven by the shell, `exec` and tests alike. Unit
/// tests are held to it too.
#[test]
fn layout_only_the_command_layer_names_cli() {
    let root = CrateRoot::load();
    let mut found = Vec::new();
    for (rel, scan) in scan_library() {
        if CLI_HOMES.iter().any(|home| rel.starts_with(home)) {
            continue;
        }
        for n in &scan.named {
            if root.layer_of(n) == Some("cli") {
                found.push(format!("{rel}:{}: names {}", n.line, n.written.join("::")));
            }
        }
    }
    assert_none("paths to crate::cli outside cli/, cmd/ and main.rs", &found);
}

/// `cli/` holds clap's types only: it names nothing of the library, so
/// arguments become options in the command layer and nowhere else.
#[test]
fn layout_cli_holds_clap_types_only() {
    let root = CrateRoot::load();
    let mut found = Vec::new();
    for (rel, scan) in scan_library() {
        if !rel.starts_with("src/cli/") {
            continue;
        }
        for n in &scan.named {
            if let Some(layer) = root.layer_of(n).filter(|l| *l != "cli") {
                found.push(format!(
                    "{rel}:{}: names {layer} ({})",
                    n.line,
                    n.written.join("::")
                ));
            }
        }
    }
    assert_none("crate paths in src/cli/", &found);
}

/// Data flows down `LAYERS`: a module imports only those below it, unit
/// tests included, and every top-level module has its place in the order.
#[test]
fn layout_top_level_modules_import_only_those_below() {
    let root = CrateRoot::load();
    let mut found = Vec::new();
    for module in &root.modules {
        if rank(module).is_none() {
            found.push(format!(
                "top-level module `{module}` is not in LAYERS: give it its place in the order"
            ));
        }
    }
    for ((from, to), sites) in imports(&root) {
        if let (Some(a), Some(b)) = (rank(&from), rank(&to))
            && b < a
        {
            found.push(format!(
                "`{from}` imports `{to}`, which is above it:\n      {}",
                sites.join("\n      ")
            ));
        }
    }
    assert_none("layering violations", &found);
}

/// No two top-level modules reach each other. The order above implies it;
/// this names the cycle, and holds for modules not yet in `LAYERS`.
#[test]
fn layout_top_level_modules_form_no_cycle() {
    let root = CrateRoot::load();
    let edges = imports(&root);
    let graph: BTreeMap<&str, BTreeSet<&str>> =
        edges.keys().fold(BTreeMap::new(), |mut g, (a, b)| {
            g.entry(a.as_str()).or_default().insert(b.as_str());
            g
        });
    let mut found = Vec::new();
    for component in cycles(&graph) {
        let cycle = shortest_cycle(&graph, component[0]);
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|w| {
                let sites = &edges[&(w[0].to_owned(), w[1].to_owned())];
                format!("{} → {} at {}", w[0], w[1], sites[0])
            })
            .collect();
        found.push(format!(
            "{} modules import each other ({}), e.g. {}:\n      {}",
            component.len(),
            component.join(", "),
            cycle.join(" → "),
            steps.join("\n      ")
        ));
    }
    assert_none("import cycles between top-level modules", &found);
}

/// Engine-specific code lives in `db/` (and the lexer's rules in `sql/`):
/// elsewhere at most `MAX_ENGINE_BRANCHES` paths name an engine, test code
/// aside, and none sits in a function that also spells SQL, which would be
/// SQL per engine outside `db/`.
#[test]
fn layout_engine_branches_stay_few_and_build_no_sql() {
    let mut branches = Vec::new();
    let mut with_sql = Vec::new();
    for (rel, scan) in scan_sources("src") {
        if ENGINE_HOMES.iter().any(|home| rel.starts_with(home)) {
            continue;
        }
        for n in scan
            .named
            .iter()
            .filter(|n| !n.in_test && is_engine_variant(n))
        {
            let func = n.func.map(|f| &scan.fns[f]);
            let name = func.map_or("(no fn)".to_owned(), |f| format!("fn {}", f.name));
            let site = format!("{rel}:{}: {} in {name}", n.line, n.written.join("::"));
            if let Some((line, word)) = func.and_then(|f| f.sql.as_ref()) {
                with_sql.push(format!(
                    "{site}, which also holds SQL ({word} at line {line})"
                ));
            }
            branches.push(site);
        }
    }
    let mut found = with_sql;
    if branches.len() > MAX_ENGINE_BRANCHES {
        found.push(format!(
            "{} engine branches outside db/ and sql/, at most {MAX_ENGINE_BRANCHES}:\n      {}",
            branches.len(),
            branches.join("\n      ")
        ));
    }
    assert_none(
        "engine branches outside db/ and sql/ beside SQL, or over the budget",
        &found,
    );
}

// ---------------------------------------------------------------- sources

/// Fails with every violation, one per line.
#[track_caller]
fn assert_none(what: &str, found: &[String]) {
    assert!(
        found.is_empty(),
        "{} {what}:\n  {}",
        found.len(),
        found.join("\n  ")
    );
}

/// Every `.rs` file under `dirs` (paths relative to the crate, with `/`)
/// and its text, in path order.
fn read(dirs: &[&str]) -> Vec<(String, String)> {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in dirs {
        rust_files(&base.join(dir), &mut files);
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let rel = path.strip_prefix(&base).unwrap_or(&path);
            let rel = rel.to_string_lossy().replace('\\', "/");
            (rel, text)
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

fn parse(rel: &str, text: &str) -> syn::File {
    syn::parse_file(text)
        .unwrap_or_else(|e| panic!("{rel}:{}: does not parse: {e}", e.span().start().line))
}

/// The module a library file holds, from the crate root: `src/a/b.rs` and
/// `src/a/b/mod.rs` are `a::b`, `src/lib.rs` the root. `None` for the
/// binary (`src/main.rs`), a crate of its own.
fn module_of(rel: &str) -> Option<Vec<String>> {
    let path = rel.strip_prefix("src/")?.strip_suffix(".rs")?;
    let mut segments: Vec<String> = path.split('/').map(str::to_owned).collect();
    match segments.as_slice() {
        [only] if only == "main" => return None,
        [only] if only == "lib" => return Some(Vec::new()),
        [.., last] if last == "mod" => {
            segments.pop();
        }
        _ => {}
    }
    Some(segments)
}

/// Every library file under `src/` scanned, `main.rs` left out.
fn scan_library() -> Vec<(String, Scan)> {
    scan_sources("src")
        .into_iter()
        .filter(|(rel, _)| module_of(rel).is_some())
        .collect()
}

/// Every file under `dir` scanned; files that only tests compile (declared
/// `#[cfg(test)] mod x;`) are scanned as test code.
fn scan_sources(dir: &str) -> Vec<(String, Scan)> {
    let files: Vec<(String, syn::File)> = read(&[dir])
        .into_iter()
        .map(|(rel, text)| {
            let ast = parse(&rel, &text);
            (rel, ast)
        })
        .collect();
    let test_dirs = test_only_modules(&files);
    files
        .into_iter()
        .map(|(rel, ast)| {
            let in_test = test_dirs
                .iter()
                .any(|d| rel == format!("{d}.rs") || rel.starts_with(&format!("{d}/")));
            let mut scan = Scan {
                module: module_of(&rel).unwrap_or_default(),
                test_depth: usize::from(in_test),
                ..Scan::default()
            };
            scan.visit_file(&ast);
            (rel, scan)
        })
        .collect()
}

/// The paths (without `.rs`) of modules declared `#[cfg(test)] mod x;`:
/// `x.rs`, `x/mod.rs` and everything under `x/` is test code.
fn test_only_modules(files: &[(String, syn::File)]) -> Vec<String> {
    let mut out = Vec::new();
    for (rel, ast) in files {
        let stem = rel.strip_suffix(".rs").unwrap_or(rel);
        let children = match stem.rsplit_once('/') {
            Some((dir, "mod" | "lib" | "main")) => dir.to_owned(),
            _ => stem.to_owned(),
        };
        for item in &ast.items {
            if let syn::Item::Mod(m) = item
                && m.content.is_none()
                && m.attrs.iter().any(is_test_attr)
            {
                out.push(format!("{children}/{}", m.ident));
            }
        }
    }
    out
}

// ---------------------------------------------------------------- functions

/// Reports every function whose signature and body span more than
/// `MAX_FN_LINES` lines.
struct FnLengths<'a> {
    rel: &'a str,
    /// The impl or trait around, to name methods.
    owner: Vec<String>,
    found: &'a mut Vec<String>,
}

impl FnLengths<'_> {
    fn check(&mut self, sig: &syn::Signature, body: &syn::Block) {
        let start = sig.span().start().line;
        let end = body.brace_token.span.close().end().line;
        let n = end + 1 - start;
        if n > MAX_FN_LINES {
            let owner = self
                .owner
                .last()
                .map_or(String::new(), |o| format!("{o}::"));
            self.found.push(format!(
                "{}:{start}: fn {owner}{} is {n} lines",
                self.rel, sig.ident
            ));
        }
    }
}

impl<'ast> Visit<'ast> for FnLengths<'_> {
    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        let name = match &*i.self_ty {
            syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        self.owner.push(name.unwrap_or_else(|| "_".to_owned()));
        visit::visit_item_impl(self, i);
        self.owner.pop();
    }

    fn visit_item_trait(&mut self, i: &'ast syn::ItemTrait) {
        self.owner.push(i.ident.to_string());
        visit::visit_item_trait(self, i);
        self.owner.pop();
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.check(&f.sig, &f.block);
        visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.check(&f.sig, &f.block);
        visit::visit_impl_item_fn(self, f);
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if let Some(body) = &f.default {
            self.check(&f.sig, body);
        }
        visit::visit_trait_item_fn(self, f);
    }
}

// ---------------------------------------------------------------- paths

/// A path the code names: in a `use`, in a type, an expression or a
/// pattern, or as tokens in a macro's arguments.
struct Named {
    line: usize,
    /// The segments as written, `crate`, `self` and `super` included.
    written: Vec<String>,
    /// The module it appears in, from the crate root.
    module: Vec<String>,
    /// Inside a `#[cfg(test)]` item or a `#[test]` function.
    in_test: bool,
    /// The innermost function around it, an index into `Scan::fns`.
    func: Option<usize>,
}

struct Func {
    name: String,
    /// The first string literal in it that looks like SQL: line and keyword.
    sql: Option<(usize, String)>,
}

/// Collects the paths of one file and the functions they sit in.
#[derive(Default)]
struct Scan {
    /// The module being read, from the crate root.
    module: Vec<String>,
    /// How many test-only items (`#[cfg(test)]`, `#[test]`) are open.
    test_depth: usize,
    /// The functions being read, innermost last.
    fn_stack: Vec<usize>,
    fns: Vec<Func>,
    named: Vec<Named>,
}

impl Scan {
    fn record(&mut self, written: Vec<String>, span: Span) {
        if written.is_empty() {
            return;
        }
        self.named.push(Named {
            line: span.start().line,
            written,
            module: self.module.clone(),
            in_test: self.test_depth > 0,
            func: self.fn_stack.last().copied(),
        });
    }

    fn enter_fn(&mut self, sig: &syn::Signature) {
        self.fns.push(Func {
            name: sig.ident.to_string(),
            sql: None,
        });
        self.fn_stack.push(self.fns.len() - 1);
    }

    /// Notes the first string in the current function that spells SQL.
    fn string(&mut self, value: &str, span: Span) {
        let Some(&f) = self.fn_stack.last() else {
            return;
        };
        let word = value
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .find(|w| SQL_KEYWORDS.contains(w));
        if let (Some(word), None) = (word, &self.fns[f].sql) {
            self.fns[f].sql = Some((span.start().line, word.to_owned()));
        }
    }

    /// Each leaf of a `use` tree as the full path it imports.
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.use_leaf(prefix, &n.ident),
            syn::UseTree::Rename(r) => self.use_leaf(prefix, &r.ident),
            syn::UseTree::Glob(g) => self.record(prefix.clone(), g.star_token.span),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }

    fn use_leaf(&mut self, prefix: &[String], ident: &syn::Ident) {
        let mut written = prefix.to_vec();
        if ident != "self" {
            written.push(ident.to_string());
        }
        self.record(written, ident.span());
    }

    /// Paths spelled in tokens (`a :: b :: c`), and string literals.
    fn tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < trees.len() {
            match &trees[i] {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Literal(l) => {
                    if let syn::Lit::Str(s) = syn::Lit::new(l.clone()) {
                        self.string(&s.value(), l.span());
                    }
                }
                TokenTree::Ident(first) => {
                    let mut written = vec![first.to_string()];
                    while let Some(next) = path_step(&trees[i + 1..]) {
                        written.push(next);
                        i += 3;
                    }
                    if written.len() > 1 {
                        self.record(written, first.span());
                    }
                }
                TokenTree::Punct(_) => {}
            }
            i += 1;
        }
    }
}

/// `:: ident` at the start of `rest`: the ident.
fn path_step(rest: &[TokenTree]) -> Option<String> {
    match rest {
        [
            TokenTree::Punct(a),
            TokenTree::Punct(b),
            TokenTree::Ident(id),
            ..,
        ] if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':' => {
            Some(id.to_string())
        }
        _ => None,
    }
}

/// `#[test]`, or a `#[cfg(...)]` that holds only for tests.
fn is_test_attr(attr: &syn::Attribute) -> bool {
    let path = attr.path();
    if path.is_ident("test") {
        return true;
    }
    let syn::Meta::List(list) = &attr.meta else {
        return false;
    };
    let words: Vec<String> = list
        .tokens
        .clone()
        .into_iter()
        .filter_map(|t| match t {
            TokenTree::Ident(id) => Some(id.to_string()),
            _ => None,
        })
        .collect();
    path.is_ident("cfg") && words.iter().any(|w| w == "test") && !words.iter().any(|w| w == "not")
}

/// The attributes of any item: syn has no accessor common to them.
fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item;
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

impl<'ast> Visit<'ast> for Scan {
    // Doc comments and cfgs are not code: their words are neither paths
    // nor SQL.
    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}

    fn visit_item(&mut self, i: &'ast syn::Item) {
        let test = usize::from(item_attrs(i).iter().any(is_test_attr));
        self.test_depth += test;
        visit::visit_item(self, i);
        self.test_depth -= test;
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        let test = usize::from(f.attrs.iter().any(is_test_attr));
        self.test_depth += test;
        self.enter_fn(&f.sig);
        visit::visit_impl_item_fn(self, f);
        self.fn_stack.pop();
        self.test_depth -= test;
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if m.content.is_some() {
            self.module.push(m.ident.to_string());
            visit::visit_item_mod(self, m);
            self.module.pop();
        }
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.enter_fn(&f.sig);
        visit::visit_item_fn(self, f);
        self.fn_stack.pop();
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        self.enter_fn(&f.sig);
        visit::visit_trait_item_fn(self, f);
        self.fn_stack.pop();
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        if u.leading_colon.is_none() {
            self.use_tree(&mut Vec::new(), &u.tree);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        if p.leading_colon.is_none() {
            let written = p.segments.iter().map(|s| s.ident.to_string()).collect();
            self.record(written, p.span());
        }
        visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        visit::visit_macro(self, m);
        self.tokens(m.tokens.clone());
    }

    fn visit_lit_str(&mut self, s: &'ast syn::LitStr) {
        self.string(&s.value(), s.span());
    }
}

fn is_engine_variant(n: &Named) -> bool {
    matches!(
        n.written.as_slice(),
        [.., engine, variant] if engine == "Engine" && (variant == "Postgres" || variant == "Sqlite")
    )
}

// ---------------------------------------------------------------- layers

/// What `lib.rs` declares: the top-level modules, and the names it
/// re-exports from them (`pub use error::Result` makes `crate::Result`
/// a path into `error`).
struct CrateRoot {
    modules: BTreeSet<String>,
    reexports: BTreeMap<String, String>,
}

impl CrateRoot {
    fn load() -> CrateRoot {
        let (rel, text) = read(&["src"])
            .into_iter()
            .find(|(rel, _)| rel == "src/lib.rs")
            .expect("src/lib.rs");
        let ast = parse(&rel, &text);
        let mut root = CrateRoot {
            modules: BTreeSet::new(),
            reexports: BTreeMap::new(),
        };
        for item in &ast.items {
            if let syn::Item::Mod(m) = item {
                root.modules.insert(m.ident.to_string());
            }
        }
        for item in &ast.items {
            if let syn::Item::Use(u) = item {
                root.reexport(&mut Vec::new(), &u.tree);
            }
        }
        root
    }

    fn reexport(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        let (leaf, alias) = match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.reexport(prefix, &p.tree);
                prefix.pop();
                return;
            }
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.reexport(prefix, tree);
                }
                return;
            }
            syn::UseTree::Name(n) => (&n.ident, &n.ident),
            syn::UseTree::Rename(r) => (&r.ident, &r.rename),
            syn::UseTree::Glob(_) => return,
        };
        let mut written = prefix.clone();
        written.push(leaf.to_string());
        if let Some(module) = resolve(&[], &written).and_then(|p| self.module_named(&p)) {
            self.reexports.insert(alias.to_string(), module);
        }
    }

    fn module_named(&self, path: &[String]) -> Option<String> {
        let first = path.first()?;
        if self.modules.contains(first) {
            return Some(first.clone());
        }
        self.reexports.get(first).cloned()
    }

    /// The top-level module a path leads into, if it is one of the crate's.
    fn layer_of(&self, n: &Named) -> Option<&str> {
        let path = resolve(&n.module, &n.written)?;
        let module = self.module_named(&path)?;
        self.modules.get(&module).map(String::as_str)
    }
}

/// A path as the crate root sees it, when it names something in this
/// crate: `crate::`, `self::` and `super::` resolved against `module`,
/// and names at the crate root taken as they are.
fn resolve(module: &[String], written: &[String]) -> Option<Vec<String>> {
    let (first, rest) = written.split_first()?;
    let (base, rest): (&[String], &[String]) = match first.as_str() {
        "crate" => (&[], rest),
        "self" => (module, rest),
        "super" => (module, written),
        _ if module.is_empty() => (&[], written),
        _ => return None,
    };
    let ups = rest.iter().take_while(|s| *s == "super").count();
    let keep = base.len().checked_sub(ups)?;
    Some(base[..keep].iter().chain(&rest[ups..]).cloned().collect())
}

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == module)
}

/// Imports between top-level modules: (from, to) → every `file:line`.
/// Unit tests count too: they live in the module and keep its layer.
fn imports(root: &CrateRoot) -> BTreeMap<(String, String), Vec<String>> {
    let mut edges: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (rel, scan) in scan_library() {
        let Some(from) = scan.module.first().cloned() else {
            continue;
        };
        for n in &scan.named {
            match root.layer_of(n) {
                Some(to) if to != from => edges
                    .entry((from.clone(), to.to_owned()))
                    .or_default()
                    .push(format!("{rel}:{} ({})", n.line, n.written.join("::"))),
                _ => {}
            }
        }
    }
    edges
}

/// The groups of modules that reach each other (strongly connected, more
/// than one module), each sorted.
fn cycles<'a>(graph: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Vec<Vec<&'a str>> {
    let reach = |from: &'a str| -> BTreeSet<&'a str> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from];
        while let Some(m) = todo.pop() {
            for &next in graph.get(m).into_iter().flatten() {
                if seen.insert(next) {
                    todo.push(next);
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&str, BTreeSet<&str>> = graph.keys().map(|&m| (m, reach(m))).collect();
    let mut groups = BTreeSet::new();
    for (&m, from_m) in &reached {
        let group: Vec<&str> = from_m
            .iter()
            .copied()
            .filter(|&o| reached.get(o).is_some_and(|r| r.contains(m)))
            .collect();
        if group.len() > 1 {
            groups.insert(group);
        }
    }
    groups.into_iter().collect()
}

/// The shortest path from `start` back to itself, both ends included.
fn shortest_cycle<'a>(
    graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    start: &'a str,
) -> Vec<&'a str> {
    let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
    let mut todo = VecDeque::from([start]);
    while let Some(m) = todo.pop_front() {
        for &next in graph.get(m).into_iter().flatten() {
            if next == start {
                let mut path = vec![m];
                let mut at = m;
                while let Some(&p) = parent.get(at) {
                    path.push(p);
                    at = p;
                }
                path.reverse();
                path.push(start);
                return path;
            }
            if !parent.contains_key(next) {
                parent.insert(next, m);
                todo.push_back(next);
            }
        }
    }
    vec![start]
}
