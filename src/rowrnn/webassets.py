"""The page's web files made fit for a notebook widget: ES modules inlined into one, a style sheet scoped.

    module = inline_modules({"a.js": a, "b.js": b}, "a.js")   # one ES module; a's exports its default export
    css = scoped_css(page_css, ".rowrnn-reading")             # every rule kept inside the widget

A widget's module (anywidget) cannot import sibling files by URL, and its styles share the notebook's document:
rowrnn.widget builds its module and styles from the page's own files (web/) with these two functions.
"""
from __future__ import annotations

import re

_NAME = r"[A-Za-z_$][\w$]*"
# import { a, b as c } from "./x.js";   or   import * as x from "./x.js";   (one per line, as the page writes them)
_IMPORT = re.compile(rf"^import\s*(?:\{{([^}}]*)\}}|\*\s*as\s+({_NAME}))\s*from\s*[\"']\./([\w.-]+\.js)[\"']\s*;?[ \t]*$",
                     re.M)
_ANY_IMPORT = re.compile(r"^import\b", re.M)
_EXPORT_DECLARATION = re.compile(rf"^export\s+((?:async\s+)?function\s*\*?|const|let|var|class)\s*({_NAME})", re.M)
_EXPORT_LIST = re.compile(r"^export\s*\{([^}]*)\}\s*;?[ \t]*$", re.M)
_ANY_EXPORT = re.compile(r"^export\b", re.M)


def _pairs(names: str) -> list[tuple[str, str]]:
    """'a, b as c' -> [('a', 'a'), ('b', 'c')]: (name in the module, local name)."""
    pairs = []
    for item in filter(None, (part.strip() for part in names.split(","))):
        match = re.fullmatch(rf"({_NAME})(?:\s+as\s+({_NAME}))?", item)
        if not match:
            raise ValueError(f"cannot read {item!r} in an import or export list")
        pairs.append((match.group(1), match.group(2) or match.group(1)))
    return pairs


def _variable(name: str) -> str:
    return "__rowrnn_" + re.sub(r"\W", "_", name)


def inline_modules(sources: dict[str, str], entry: str) -> str:
    """ES modules that import one another by relative URL ("./render.js") -> one ES module, whose default export
    is the entry module's exports (anywidget's `export default { render }`).

    sources maps a file name to its text. Each module becomes a function scope run once, in dependency order,
    that returns its exports (their values once it has run: an exported `let` reassigned later is not followed);
    `import { a, b as c } from "./x.js"` becomes `const { a, b: c } = <x's exports>`.
    Only what these modules use is understood: named imports and `import * as`, from sibling files, and
    `export` before a function, class, const, let or var, or of a `{ list }`. Anything else (a default export, an
    import from a package, a name imported that the module does not export, a cycle) is a ValueError naming the
    file, so that a change to the page's modules that this would get wrong fails the tests instead of the widget.
    """
    parsed: dict[str, tuple[str, list[str], list[str]]] = {}   # file -> (body, exported names, files imported)

    def parse(name: str, chain: tuple[str, ...]) -> None:
        if name in chain:
            raise ValueError(f"{name}: imports form a cycle ({' -> '.join((*chain, name))})")
        if name in parsed:
            return
        if name not in sources:
            raise ValueError(f"{chain[-1] if chain else 'entry'}: imports {name!r}, which is not among {sorted(sources)}")
        text = sources[name]
        imports: list[tuple[str, list[tuple[str, str]] | str]] = []   # (file, [(name, local)] or namespace)

        def found(match):
            imports.append((match.group(3), match.group(2) or _pairs(match.group(1))))
            return f"\0import {len(imports) - 1}\0"

        text = _IMPORT.sub(found, text)
        other = _ANY_IMPORT.search(text) or re.search(r"\bimport\s*\(", text)
        if other:
            line = text[other.start():].split("\n", 1)[0]
            raise ValueError(f"{name}: an import other than `import {{...}} from \"./file.js\"` ({line!r})")
        exported: list[str] = []

        def declaration(match):
            exported.append(match.group(2))
            return match.group(0)[len("export"):].lstrip()      # the declaration, exactly as written

        def listed(match):
            exported.extend(f"{local}: {inner}" if local != inner else inner for inner, local in _pairs(match.group(1)))
            return ""

        text = _EXPORT_LIST.sub(listed, _EXPORT_DECLARATION.sub(declaration, text))
        if _ANY_EXPORT.search(text):
            line = text[_ANY_EXPORT.search(text).start():].split("\n", 1)[0]
            raise ValueError(f"{name}: an export other than a declaration or a list ({line!r})")
        for dependency, _ in imports:
            parse(dependency, (*chain, name))
        body = text
        for k, (dependency, names) in enumerate(imports):
            if isinstance(names, str):
                line = f"const {names} = {_variable(dependency)};"
            else:
                available = {e.split(":")[0] for e in parsed[dependency][1]}
                missing = [inner for inner, _ in names if inner not in available]
                if missing:
                    raise ValueError(f"{name}: imports {', '.join(missing)} from {dependency}, which does not "
                                     "export it")
                line = "const { " + ", ".join(inner if inner == local else f"{inner}: {local}"
                                              for inner, local in names) + f" }} = {_variable(dependency)};"
            body = body.replace(f"\0import {k}\0", line)
        parsed[name] = (body, exported, [d for d, _ in imports])

    parse(entry, ())
    parts = [f"// {len(parsed)} modules inlined by rowrnn.webassets.inline_modules: {', '.join(parsed)}"]
    for name, (body, exported, _) in parsed.items():    # insertion order is dependency order (depth first)
        parts.append(f"const {_variable(name)} = (() => {{ // {name}\n{body.rstrip()}\n"
                     f"return Object.freeze({{ {', '.join(exported)} }});\n}})();")
    parts.append(f"export default {_variable(entry)};")
    return "\n".join(parts) + "\n"


def scoped_css(css: str, scope: str) -> str:
    """A style sheet with every rule kept inside `scope` (a selector): "h3 { }" -> "<scope> h3 { }"; ":root",
    "html" and "body" become the scope itself; @media blocks are scoped inside. So the page's style.css styles the
    widget's panels without touching the notebook around them."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    out, i = [], 0
    while True:
        start = css.find("{", i)
        if start < 0:
            break
        head = css[i:start].strip()
        depth, end = 1, start + 1
        while depth:                                 # the matching brace (an @media block holds rules)
            depth += {"{": 1, "}": -1}.get(css[end], 0)
            end += 1
        body = css[start + 1:end - 1]
        if head.startswith("@media") or head.startswith("@supports"):
            out.append(f"{head} {{\n{scoped_css(body, scope)}}}")
        elif head.startswith("@"):
            out.append(f"{head} {{{body}}}")
        else:
            # the page's own frame (body > header, ...) is not in the widget: such selectors are left out
            selectors = [sel.strip() for sel in head.split(",")
                         if not re.match(r"(:root|html|body)\b.", sel.strip())]
            scoped = [scope if sel in (":root", "html", "body") else f"{scope} {sel}" for sel in selectors]
            if scoped:
                out.append(f"{', '.join(scoped)} {{{body}}}")
        i = end
    return "\n".join(out) + "\n"
