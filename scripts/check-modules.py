#!/usr/bin/env python3
"""Fails when the top-level modules of a crate depend on each other in a cycle.

For every package under crates/ and functions/ (a folder with Cargo.toml and src/), and for
each of its crate roots (src/lib.rs, src/main.rs): the top-level modules are the `mod X;`
declarations of the root (files src/X.rs or src/X/mod.rs, with their submodules under src/X/).
Module A refers to module B when A's files hold a path into B:

  * `use crate::B::...`, `crate::B::...` anywhere in the code (`$crate::B` too), nested
    `use crate::{B::..., C::{...}}` groups included;
  * `super::` paths that climb back to the crate root (`super::B` in src/A.rs,
    `super::super::B` in src/A/x.rs or in an inline `mod x { }` of src/A.rs);
  * `crate::Item` where the root re-exports Item from B (`pub use B::{Item, ...}`, or a plain
    `use B::Item` in the root, `as` renames and `B::*` globs resolved); paths to what the root
    itself defines (or re-exports from another crate) are edges to the root and ignored.

Unit-test modules (`#[cfg(test)] mod name { ... }`, or `#[cfg(test)] mod name;` and its file) do not count: like integration tests, they
use the crate from above (a section's tests build a whole `Config`), and are not part of the
library's module graph. The paths of doc comments do count (`///`, `//!`: intra-doc links such as [`crate::B`] tie the modules' docs
together; they are marked `doc` in the report). Plain comments and string literals do not
count. `--code-only` leaves the doc comments out too, to see what the code alone depends on.

Prints each cycle (`cwlogs-pipeline: config -> index -> config`) with the references that make
it, and exits 1; else one summary line. `--self-test` checks the checker on in-memory trees.
"""

import os
import re
import sys

# ---------------------------------------------------------------------------------------------
# Lexing: comments and literals out, line numbers kept.


def strip_code(text):
    """Returns (code, comments): code is `text` with every comment, string and char literal
    replaced by spaces (newlines kept, so offsets and line numbers stay); comments is a list of
    (offset, comment text, is_doc)."""
    out = list(text)
    comments = []
    n = len(text)
    i = 0

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            body = text[i:j]
            is_doc = (body.startswith("///") and not body.startswith("////")) or body.startswith("//!")
            comments.append((i, body, is_doc))
            blank(i, j)
            i = j
        elif c == "/" and text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            body = text[i:j]
            is_doc = (body.startswith("/**") and not body.startswith("/***") and body != "/**/") or body.startswith("/*!")
            comments.append((i, body, is_doc))
            blank(i, j)
            i = j
        elif c in "rb" and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
            # Raw strings r"..", r#".."#, br#".."#; byte strings b"..", byte chars b'.'.
            m = re.compile(r'(b?r)(#*)"').match(text, i)
            if m:
                end = text.find('"' + m.group(2), m.end())
                end = n if end < 0 else end + 1 + len(m.group(2))
                blank(i, end)
                i = end
            elif text.startswith('b"', i) or text.startswith("b'", i):
                i += 1  # the literal itself is handled on the next turn
            else:
                i += 1
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i, min(j + 1, n))
            i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{1F600}', '\'') or a lifetime / label ('a, 'static).
            if i + 1 < n and text[i + 1] == "\\":
                j = i + 2
                while j < n and text[j] != "'":
                    j += 2 if text[j] == "\\" else 1
                blank(i, min(j + 1, n))
                i = j + 1
            elif i + 2 < n and text[i + 2] == "'":
                blank(i, i + 3)
                i += 3
            else:
                i += 1
        else:
            i += 1
    return "".join(out), comments


TOKEN = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_]*|::|[{}();,*#\[\]<>=!]|\S")


def tokens(code):
    """(kind, text, offset) for each token: kind is 'id' for identifiers (`$crate` too)."""
    for m in TOKEN.finditer(code):
        t = m.group(0)
        yield ("id" if (t[0].isalpha() or t[0] in "_$") else "p", t, m.start())


# ---------------------------------------------------------------------------------------------
# Use trees and paths.


def parse_use_tree(toks, i):
    """Parses the use tree starting at toks[i]; returns (paths, next index). Each path is a list
    of segments; a glob ends with '*'; `x as y` gives the segments of x plus ('as', y)."""
    prefix = []
    while i < len(toks):
        kind, t, _ = toks[i]
        if t == "::":
            i += 1
        elif t == "{":
            paths = []
            i += 1
            while i < len(toks) and toks[i][1] != "}":
                sub, i = parse_use_tree(toks, i)
                paths.extend(prefix + p for p in sub)
                if i < len(toks) and toks[i][1] == ",":
                    i += 1
            return paths, i + 1
        elif t == "*":
            return [prefix + ["*"]], i + 1
        elif kind == "id" and t == "as" and prefix:
            alias = toks[i + 1][1] if i + 1 < len(toks) else "_"
            return [prefix + [("as", alias)]], i + 2
        elif kind == "id":
            prefix.append(t)
            i += 1
        else:
            break
    return [prefix], i


def plain(path):
    """The segments of a use path without its `as` rename."""
    return [s for s in path if not isinstance(s, tuple)]


class Crate:
    """One crate root and its top-level modules. `files` maps paths relative to the package
    (src/lib.rs, src/config.rs, ...) to their text."""

    def __init__(self, name, root, files, doc_links=True):
        self.name = name
        self.root = root
        self.files = files
        self.doc_links = doc_links
        self.modules = []  # top-level module names, in declaration order
        self.reexports = {}  # name usable as crate::NAME -> top-level module it comes from
        self.globs = []  # modules glob-re-exported by the root (`pub use m::*`)
        self.edges = {}  # (from, to) -> list of (file, line, path text)
        self._parse_root()

    # The root: its `mod` declarations and its `use` items, at its own level only.
    def _parse_root(self):
        code, _ = strip_code(self.files[self.root])
        toks = list(tokens(code))
        depth, i = 0, 0
        uses = []
        while i < len(toks):
            kind, t, _ = toks[i]
            if t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
            elif depth == 0 and t == "mod" and i + 2 < len(toks) and toks[i + 1][0] == "id":
                name, after = toks[i + 1][1], toks[i + 2][1]
                if after == ";" and self._module_files(name):
                    self.modules.append(name)
            elif depth == 0 and t == "use":
                paths, i = parse_use_tree(toks, i + 1)
                uses.extend(paths)
                continue
            i += 1
        for path in uses:
            segs = path[1:] if path and path[0] in ("crate", "self") else path
            if not segs or segs[0] not in self.modules or len(segs) < 2:
                continue
            module, last = segs[0], path[-1]
            if last == "*":
                self.globs.append(module)
            elif isinstance(last, tuple):
                self.reexports[last[1]] = module
            else:
                self.reexports[last] = module

    def _module_files(self, name):
        """The files of top-level module `name`: src/NAME.rs, src/NAME/**.rs."""
        files = []
        base = os.path.dirname(self.root)
        for path in sorted(self.files):
            if path == f"{base}/{name}.rs" or path.startswith(f"{base}/{name}/"):
                if path.endswith(".rs"):
                    files.append(path)
        return files

    def _module_path(self, path):
        """The module path of a file: src/a.rs -> [a], src/a/mod.rs -> [a], src/a/b.rs -> [a, b]."""
        base = os.path.dirname(self.root)
        rel = path[len(base) + 1 : -len(".rs")].split("/")
        if rel[-1] == "mod":
            rel.pop()
        return rel

    def _glob_owner(self, item):
        """The glob-re-exported module that defines `item`, if one does."""
        defines = re.compile(
            r"\bpub\s+(?:(?:unsafe|async|const|extern\s+\"[^\"]*\")\s+)*"
            r"(?:fn|struct|enum|union|trait|type|const|static|mod|macro)\s+" + re.escape(item) + r"\b"
        )
        for module in self.globs:
            for path in self._module_files(module):
                if defines.search(strip_code(self.files[path])[0]):
                    return module
        return None

    def _resolve(self, segs):
        """The top-level module that an absolute path (segments after `crate::`) lands in, or
        None for the root itself."""
        if not segs:
            return None
        first = segs[0]
        if first in self.modules:
            return first
        if first in self.reexports:
            return self.reexports[first]
        if first in ("*", "self"):
            return None
        return self._glob_owner(first)

    def _absolute(self, here, segs):
        """Turns a path seen in module `here` (a list of names) into segments from the crate
        root, or None when it does not start at the root or climb back to it."""
        if not segs:
            return None
        if segs[0] in ("crate", "$crate"):
            return segs[1:]
        if segs[0] == "super":
            depth = len(here)
            k = 0
            while k < len(segs) and segs[k] == "super":
                depth -= 1
                k += 1
            if depth == 0:
                return segs[k:]
            return None  # stays inside the module (or climbs past the root: not valid Rust)
        return None

    def _test_files(self):
        """The files of out-of-line unit-test modules (`#[cfg(test)] mod name;`) and the files
        below them: like inline test modules, they do not count."""
        base = os.path.dirname(self.root)
        decl = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;")
        roots = set()
        for path, text in self.files.items():
            if not path.endswith(".rs") or not path.startswith(base + "/"):
                continue
            for name in decl.findall(strip_code(text)[0]):
                here = os.path.dirname(path)
                stem = os.path.basename(path)[: -len(".rs")]
                if stem not in ("mod", "lib", "main"):
                    here = f"{here}/{stem}"
                roots.add(f"{here}/{name}")
        return {p for p in self.files if any(p == r + ".rs" or p.startswith(r + "/") for r in roots)}

    def analyse(self):
        skip = self._test_files()
        for module in self.modules:
            for path in self._module_files(module):
                if path not in skip:
                    self._scan_file(module, path)
        return self

    def _add(self, module, target, path, line, text):
        if target is not None and target != module:
            self.edges.setdefault((module, target), []).append((path, line, text))

    def _scan_file(self, module, path):
        text = self.files[path]
        code, comments = strip_code(text)
        toks = list(tokens(code))
        file_mod = self._module_path(path)

        def line_of(offset):
            return text.count("\n", 0, offset) + 1

        # The stack of open braces: the name of an inline `mod name {`, else None.
        stack = []
        # (offset, module path) from which each inline-module depth holds, for the doc links.
        spans = [(0, list(file_mod))]

        def here():
            return file_mod + [s for s, _ in stack if s is not None]

        def in_test():
            return any(test for _, test in stack)

        def cfg_test_before(k):
            """Whether the tokens just before position `k` (a `mod`) are `#[cfg(test)]`."""
            want = ["#", "[", "cfg", "(", "test", ")", "]"]
            return k >= len(want) and [toks[k - len(want) + n][1] for n in range(len(want))] == want

        i = 0
        while i < len(toks):
            kind, t, off = toks[i]
            if t == "{":
                name, test = None, False
                if i >= 2 and toks[i - 2][1] == "mod" and toks[i - 1][0] == "id":
                    name = toks[i - 1][1]
                    test = cfg_test_before(i - 2)
                stack.append((name, test))
                if name is not None:
                    spans.append((off, here()))
                i += 1
            elif t == "}":
                if stack and stack.pop()[0] is not None:
                    spans.append((off, here()))
                i += 1
            elif t == "use" and kind == "id":
                paths, j = parse_use_tree(toks, i + 1)
                for p in [] if in_test() else paths:
                    segs = plain(p)
                    absolute = self._absolute(here(), segs)
                    if absolute is not None:
                        target = self._resolve(absolute)
                        self._add(module, target, path, line_of(off), "use " + "::".join(segs))
                i = max(j, i + 1)
            elif kind == "id" and t in ("crate", "$crate", "super") and i + 1 < len(toks) and toks[i + 1][1] == "::":
                # A path in the code: ident (:: ident)*.
                segs = [t]
                j = i + 1
                while j + 1 < len(toks) and toks[j][1] == "::" and toks[j + 1][0] == "id":
                    segs.append(toks[j + 1][1])
                    j += 2
                # Not `pub(crate)`, `pub(in crate::x)` is a path and counts.
                absolute = None if in_test() else self._absolute(here(), segs)
                if absolute is not None:
                    self._add(module, self._resolve(absolute), path, line_of(off), "::".join(segs))
                i = j
            else:
                i += 1

        if self.doc_links:
            for off, body, is_doc in comments:
                if not is_doc:
                    continue
                mod_here = [m for o, m in spans if o <= off][-1]
                for m in re.finditer(r"\b(?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+", body):
                    segs = m.group(0).split("::")
                    absolute = self._absolute(mod_here, segs)
                    if absolute is not None:
                        self._add(module, self._resolve(absolute), path, line_of(off), "doc " + m.group(0))


# ---------------------------------------------------------------------------------------------
# Cycles.


def strongly_connected(nodes, succ):
    """Tarjan's algorithm; the components in a stable order."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in succ.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            result.append(sorted(comp))

    for v in nodes:
        if v not in index:
            visit(v)
    return sorted(result)


def shortest_cycle(start, succ, allowed):
    """The shortest cycle start -> ... -> start within `allowed` (BFS), as a node list."""
    prev = {start: None}
    queue = [start]
    while queue:
        nxt = []
        for v in queue:
            for w in sorted(succ.get(v, ())):
                if w not in allowed:
                    continue
                if w == start:
                    cycle = [v]
                    while prev[cycle[-1]] is not None:
                        cycle.append(prev[cycle[-1]])
                    return [start] + list(reversed(cycle))[1:] + [start] if v != start else [start, start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        queue = nxt
    return None


def cycles_of(crate):
    """[(component, [cycle, ...])] for each component of more than one module."""
    succ = {}
    for a, b in crate.edges:
        succ.setdefault(a, set()).add(b)
    found = []
    for comp in strongly_connected(crate.modules, succ):
        if len(comp) < 2:
            continue
        members = set(comp)
        cycles = []
        seen = set()
        for v in comp:
            cyc = shortest_cycle(v, succ, members)
            if not cyc:
                continue
            # The same cycle from another starting node: keep one.
            body = cyc[:-1]
            k = body.index(min(body))
            key = tuple(body[k:] + body[:k])
            if key not in seen:
                seen.add(key)
                cycles.append(list(key) + [key[0]])
        found.append((comp, cycles))
    return found


def report(crate, label):
    """Prints the cycles of `crate`; returns how many components had one."""
    found = cycles_of(crate)
    for comp, cycles in found:
        members = set(comp)
        for cyc in cycles:
            print(f"{label}: {' -> '.join(cyc)}")
        print(f"  ({len(comp)} modules in one cycle: {', '.join(comp)}; the references among them:)")
        for (a, b), refs in sorted(crate.edges.items()):
            if a in members and b in members:
                # The first reference of each file, and how many more that file has.
                by_file = {}
                for file, line, what in refs:
                    by_file.setdefault(file, []).append((line, what))
                shown = []
                for file, seen in by_file.items():
                    more = f" (+{len(seen) - 1} more)" if len(seen) > 1 else ""
                    shown.append(f"{file}:{seen[0][0]} {seen[0][1]}{more}")
                print(f"    {a} -> {b}: {'; '.join(shown)}")
    return len(found)


# ---------------------------------------------------------------------------------------------
# The workspace.


def package_name(cargo_toml):
    in_package = False
    for line in cargo_toml.splitlines():
        s = line.strip()
        if s.startswith("["):
            in_package = s == "[package]"
        elif in_package:
            m = re.match(r'name\s*=\s*"([^"]+)"', s)
            if m:
                return m.group(1)
    return None


def crates_of(files, name, doc_links=True):
    """The Crate of each root (src/lib.rs, src/main.rs) present in `files`."""
    roots = [r for r in ("src/lib.rs", "src/main.rs") if r in files]
    return [(name if len(roots) == 1 else f"{name} ({os.path.basename(r)})", Crate(name, r, files, doc_links)) for r in roots]


def load_package(folder):
    files = {}
    for dirpath, _, names in os.walk(os.path.join(folder, "src")):
        for f in names:
            if f.endswith(".rs"):
                full = os.path.join(dirpath, f)
                with open(full, encoding="utf-8") as fh:
                    files[os.path.relpath(full, folder).replace(os.sep, "/")] = fh.read()
    return files


def check_workspace(root, doc_links=True):
    packages = 0
    modules = 0
    bad = 0
    for group in ("crates", "functions"):
        base = os.path.join(root, group)
        if not os.path.isdir(base):
            continue
        for entry in sorted(os.listdir(base)):
            folder = os.path.join(base, entry)
            manifest = os.path.join(folder, "Cargo.toml")
            if not (os.path.isfile(manifest) and os.path.isdir(os.path.join(folder, "src"))):
                continue
            with open(manifest, encoding="utf-8") as fh:
                name = package_name(fh.read()) or entry
            packages += 1
            files = load_package(folder)
            for label, crate in crates_of(files, name, doc_links):
                crate.analyse()
                modules += len(crate.modules)
                # Paths in the report are from the workspace root.
                for refs in crate.edges.values():
                    refs[:] = [(f"{group}/{entry}/{f}", line, what) for f, line, what in refs]
                bad += report(crate, label)
    if bad:
        print(f"check-modules: {bad} group(s) of top-level modules in a cycle; a top-level module must not reach back to "
              "one that refers to it (move the shared item down, or the code up)", file=sys.stderr)
        return 1
    print(f"check-modules: no cycle among the top-level modules ({modules} modules in {packages} packages)")
    return 0


# ---------------------------------------------------------------------------------------------
# Self-test.


def self_test():
    failures = []

    def expect(what, got, want):
        if got != want:
            failures.append(f"{what}: got {got!r}, want {want!r}")

    def cycles(files, doc_links=True):
        crate = Crate("t", "src/lib.rs", files, doc_links).analyse()
        return [c for _, cs in cycles_of(crate) for c in cs]

    # A 2-cycle: a uses b, b names a through a re-export of the root.
    two = {
        "src/lib.rs": "pub mod a;\nmod b;\npub use a::{Thing, other as Renamed};\n",
        "src/a.rs": "use crate::b::helper;\npub struct Thing;\n",
        "src/b.rs": "pub fn helper() -> crate::Thing { crate::Thing }\n",
    }
    expect("2-cycle", cycles(two), [["a", "b", "a"]])
    renamed = dict(two, **{"src/b.rs": "pub fn helper() { let _ = crate::Renamed; }\n"})
    expect("2-cycle through an `as` rename", cycles(renamed), [["a", "b", "a"]])

    # A 3-cycle through a nested use group, a super:: path from a nested submodule and a
    # multi-line `pub use x::{...}` of the root.
    three = {
        "src/lib.rs": "mod x;\nmod y;\nmod z;\npub use z::{\n    Zed,\n    Zap,\n};\n#[cfg(test)]\nmod tests { use crate::x::X; }\n",
        "src/x.rs": "use crate::{route::Glob as _, y::{self, Y}};\nmod inner;\npub struct X;\n",
        "src/x/inner.rs": "",
        "src/y.rs": "pub struct Y;\nmod deep { fn f() { super::super::Zap::new(); } }\n",
        "src/z/mod.rs": "mod sub;\npub struct Zed; pub struct Zap;\n",
        "src/z/sub.rs": "fn f() -> super::super::x::X { todo!() }\n",
    }
    expect("3-cycle", cycles(three), [["x", "y", "z", "x"]])

    # Acyclic: references only downwards, to the root, to another crate, inside a module
    # (super:: from a test module), in plain comments and in strings; one doc link upwards
    # (low -> top), which makes a cycle unless only the code counts.
    acyclic = {
        "src/lib.rs": "pub mod low;\npub mod mid;\npub mod top;\npub use low::Low;\npub use other_crate::Ext;\npub fn root_fn() {}\n",
        "src/low.rs": (
            "//! Used by [`crate::top`].\n"
            "// A plain comment: crate::top::T.\n"
            "pub struct Low;\n"
            "fn f() { crate::root_fn(); let _ = crate::Ext; let s = \"crate::top::T\"; let c = '\"'; }\n"
            "/* crate::mid::M */\n"
            "fn g<'a>(x: &'a str) -> &'a str { x }\n"
            "#[cfg(test)]\nmod tests { use super::*; use super::super::Low as L; }\n"
        ),
        "src/mid.rs": "use crate::Low;\npub struct M(pub(crate) crate::low::Low);\n",
        "src/top.rs": "use crate::{mid::M, low::{self, Low}};\nuse std::fmt;\n",
    }
    expect("acyclic, code only", cycles(acyclic, doc_links=False), [])
    # Doc links counted (the default): low -> top -> low, and through mid.
    expect("doc links counted", cycles(acyclic), [["low", "top", "low"], ["low", "top", "mid", "low"]])
    acyclic["src/low.rs"] = acyclic["src/low.rs"].replace("[`crate::top`]", "the top module")
    expect("acyclic", cycles(acyclic), [])
    # A unit-test module may use the crate from above (low's tests build a top::T): no cycle;
    # the same line outside the test module is one.
    tested = dict(acyclic, **{"src/low.rs": acyclic["src/low.rs"].replace("use super::*;", "use super::*; use crate::top::T;")})
    expect("unit tests do not count", cycles(tested), [])
    # The same in a file of its own (`#[cfg(test)] mod tests;` -> low/tests.rs).
    outside = dict(acyclic, **{"src/low.rs": acyclic["src/low.rs"] + "#[cfg(test)]\nmod more;\n", "src/low/more.rs": "use crate::top::T;\n"})
    expect("out-of-line unit tests do not count", cycles(outside), [])
    untested = dict(acyclic, **{"src/low.rs": acyclic["src/low.rs"] + "fn h() { crate::top::f(); }\n"})
    expect("the same path outside the tests counts", cycles(untested), [["low", "top", "low"], ["low", "top", "mid", "low"]])

    # Globs: `pub use g::*` in the root; crate::Gee is resolved by finding who defines it.
    globs = {
        "src/lib.rs": "mod g;\nmod h;\npub use g::*;\n",
        "src/g.rs": "pub fn gee() { crate::h::H; }\npub struct Gee;\n",
        "src/h.rs": "pub struct H(crate::Gee);\n",
    }
    expect("glob re-export", cycles(globs), [["g", "h", "g"]])

    # The workspace walk on a temporary tree: a cycle exits 1, an acyclic tree 0.
    import contextlib
    import io
    import tempfile

    def run(tree):
        with tempfile.TemporaryDirectory() as tmp:
            for rel, text in tree.items():
                full = os.path.join(tmp, rel)
                os.makedirs(os.path.dirname(full), exist_ok=True)
                with open(full, "w", encoding="utf-8") as fh:
                    fh.write(text)
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = check_workspace(tmp)
            return code, out.getvalue() + err.getvalue()

    manifest = '[package]\nname = "fake"\n'
    code, out = run({"crates/fake/Cargo.toml": manifest, **{f"crates/fake/{k}": v for k, v in three.items()}})
    expect("workspace with a 3-cycle: exit code", code, 1)
    expect("workspace with a 3-cycle: report", out.splitlines()[0], "fake: x -> y -> z -> x")
    if "crates/fake/src/z/sub.rs:1 super::super::x::X" not in out:
        failures.append(f"workspace report does not name the super:: reference:\n{out}")
    if "check-modules: 1 group(s)" not in out:
        failures.append(f"workspace report does not count one group:\n{out}")
    code, out = run({"functions/ok/Cargo.toml": manifest, **{f"functions/ok/{k}": v for k, v in acyclic.items()}})
    expect("acyclic workspace: exit code", code, 0)

    if failures:
        for f in failures:
            print("FAIL", f)
        return 1
    print("check-modules self-test: ok (2-cycle, 3-cycle, glob, acyclic tree, workspace walk)")
    return 0


def main(argv):
    if "--self-test" in argv:
        return self_test()
    unknown = [a for a in argv if a not in ("--code-only",)]
    if unknown:
        print(f"usage: {sys.argv[0]} [--code-only] | --self-test", file=sys.stderr)
        return 2
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return check_workspace(root, doc_links="--code-only" not in argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
