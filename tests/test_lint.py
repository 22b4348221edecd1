"""The package is clean under the project's ruff and mypy configuration (pyproject.toml)."""

import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_ruff_check_and_format():
    check = _run("ruff", "check", "jforeach", "tests", "notebooks", "examples")
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = _run("ruff", "format", "--check", "jforeach", "tests", "notebooks", "examples")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy():
    result = _run("mypy", "jforeach")
    assert result.returncode == 0, result.stdout + result.stderr


def _package_imports() -> dict[str, set[str]]:
    """Module -> the package modules it imports (at module level or inside functions)."""
    import ast

    modules = {p.stem for p in (REPO / "jforeach").glob("*.py")}
    graph: dict[str, set[str]] = {}
    for module in modules:
        deps: set[str] = set()
        for node in ast.walk(ast.parse((REPO / "jforeach" / f"{module}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level == 1 or (node.module or "").startswith("jforeach")):
                base = (node.module or "").removeprefix("jforeach").lstrip(".")
                deps |= {base.split(".")[0]} if base else {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.Import):
                deps |= {
                    a.name.removeprefix("jforeach").lstrip(".").split(".")[0] or "__init__"
                    for a in node.names
                    if a.name.startswith("jforeach")
                }
        graph[module] = deps - {module}
    return graph


def test_imports_go_one_way():
    """No import cycle anywhere in the package: each module imports only modules below it."""
    graph = _package_imports()
    assert "_optim_checks" in graph["_optim_more"] and "packed" in graph["_engine"]  # the graph is read
    cycles = set()
    for start in graph:
        stack = [(start, (start,))]
        while stack:
            node, path = stack.pop()
            for dep in graph.get(node, ()):
                if dep == start:
                    cycles.add(frozenset(path))
                elif dep not in path:
                    stack.append((dep, (*path, dep)))
    assert not cycles, sorted(map(sorted, cycles))
    # the Packed module describes buffers and layouts and owns no kernels: it imports no engine
    assert not graph["packed"] & {"_engine", "_kernels", "_api"}, graph["packed"]
