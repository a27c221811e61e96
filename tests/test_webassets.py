"""rowrnn.webassets: the page's ES modules inlined into one, its style sheet scoped (what the widget is built from)."""
import pytest

from conftest import needs_node, run_module
from rowrnn import webassets

SOURCES = {
    "a.js": 'import { twice, NAME as label } from "./b.js";\nimport * as c from "./c.js";\n'
            "const hidden = 1;\nexport function run(x) { return [twice(x), label, c.three, hidden]; }\n"
            "export const VALUE = 7;\n",
    "b.js": 'import { three } from "./c.js";\nconst hidden = 2;\nexport function twice(x) { return 2 * x + hidden - 2; }\n'
            "const NAME = 'b';\nexport { NAME };\nexport let seen = three;\n",
    "c.js": "export const three = 3;\n",
}


@needs_node
def test_inline_modules_keeps_each_module_in_its_own_scope_and_renames_imports(tmp_path):
    bundle = webassets.inline_modules(SOURCES, "a.js")
    # dependencies first, each module once (c.js is imported twice)
    assert [line.split("// ")[1] for line in bundle.splitlines() if line.startswith("const __rowrnn_")] == \
        ["c.js", "b.js", "a.js"]
    assert run_module(tmp_path, bundle, "[m.run(5), m.VALUE, Object.keys(m).sort()]") == \
        [[10, "b", 3, 1], 7, ["VALUE", "run"]]


@pytest.mark.parametrize("sources, message", [
    ({"a.js": 'import { gone } from "./c.js";\n', "c.js": "export const three = 3;\n"},
     "a.js: imports gone from c.js, which does not export it"),
    ({"a.js": 'import { x } from "./b.js";\n', "b.js": 'import { y } from "./a.js";\nexport const x = 1;\n'},
     "a.js: imports form a cycle (a.js -> b.js -> a.js)"),
    ({"a.js": "export default { render };\n"}, "a.js: an export other than a declaration or a list ('export default"),
    ({"a.js": 'import confetti from "canvas-confetti";\n'}, "a.js: an import other than"),
    ({"a.js": 'const m = await import("./b.js");\n'}, "a.js: an import other than"),
    ({"a.js": 'import { x } from "./missing.js";\n'}, "a.js: imports 'missing.js', which is not among ['a.js']"),
])
def test_inline_modules_refuses_what_it_would_get_wrong(sources, message):
    with pytest.raises(ValueError) as error:
        webassets.inline_modules(sources, "a.js")
    assert str(error.value).startswith(message)


def test_scoped_css_keeps_the_pages_rules_inside_the_widget():
    css = (":root { --ink: #123; }\nbody { margin: 0; }\nbody > header { background: black; }\n"
           "/* a comment { } */\n.bar .fill, h3 { width: 0; }\n@media (max-width: 900px) { main { gap: 1px; } }\n")
    assert webassets.scoped_css(css, ".w") == (
        ".w { --ink: #123; }\n.w { margin: 0; }\n.w .bar .fill, .w h3 { width: 0; }\n"
        "@media (max-width: 900px) {\n.w main { gap: 1px; }\n}\n")
