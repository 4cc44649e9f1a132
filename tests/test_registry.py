"""Registries import their plugin modules once, lazily, on the first question asked of them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from seethink.errors import UserError
from seethink.registry import Registry


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A module `st_plugin_reg` that counts its imports and registers two names into `st_plugin_host.REG`."""
    (tmp_path / "st_plugin_host.py").write_text(textwrap.dedent("""
        from seethink.registry import Registry
        REG = Registry("widget", {"builtin": 0}, plugins=("st_plugin_reg",))
        IMPORTS = []
    """))
    (tmp_path / "st_plugin_reg.py").write_text(textwrap.dedent("""
        import st_plugin_host
        st_plugin_host.IMPORTS.append(1)
        st_plugin_host.REG.add("alpha", 1)
        assert st_plugin_host.REG.get("alpha") == 1  # asking again while loading does not recurse
        assert "alpha" in st_plugin_host.REG
        st_plugin_host.REG.add("beta", 2)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("st_plugin_host", "st_plugin_reg"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import st_plugin_host

    yield st_plugin_host
    for name in ("st_plugin_host", "st_plugin_reg"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize("ask", [
    lambda r: r.get("alpha"),
    lambda r: r.names(),
    lambda r: "alpha" in r,
    lambda r: list(r),
    lambda r: r.add("gamma", 3),
])
def test_any_question_loads_the_plugins_once(plugin, ask):
    assert "st_plugin_reg" not in sys.modules and plugin.IMPORTS == []
    ask(plugin.REG)
    assert plugin.IMPORTS == [1]
    assert plugin.REG.get("alpha") == 1 and plugin.REG.get("builtin") == 0
    assert {"alpha", "beta", "builtin"} <= set(plugin.REG.names())
    assert plugin.IMPORTS == [1]


def test_a_user_cannot_shadow_a_plugin_name(plugin):
    with pytest.raises(ValueError, match="widget 'beta' is already registered"):
        plugin.REG.add("beta", 99)
    assert plugin.REG.get("beta") == 2


def test_unknown_names_list_the_plugins_names_too(plugin):
    with pytest.raises(UserError) as err:
        plugin.REG.get("alpah")
    assert str(err.value) == "unknown widget 'alpah'; did you mean 'alpha'? (known: alpha, beta, builtin)"


def test_importing_the_plugin_first_registers_it_once(plugin):
    import st_plugin_reg  # noqa: F401  (the plugin imported directly, before any question)

    assert plugin.IMPORTS == [1]
    assert plugin.REG.names() == ["alpha", "beta", "builtin"]
    assert plugin.IMPORTS == [1]


def test_a_registry_without_plugins_works_as_before():
    reg: Registry[int] = Registry("thing")
    reg.add("one", 1)
    assert reg.names() == ["one"] and list(reg) == ["one"] and "one" in reg
    with pytest.raises(UserError, match=r"unknown thing 'two' \(known: one\)"):
        reg.get("two")


def test_generic_modules_do_not_import_the_toy_world_until_asked():
    code = textwrap.dedent("""
        import sys
        from seethink.data.tasks import TASKS
        from seethink.rewards.core import REWARDS
        assert not [m for m in sys.modules if "toyworld" in m], sorted(sys.modules)
        assert {"toy_perception", "toy_text", "toy_visual", "toy_caption"} <= set(TASKS.names())
        assert "inventory" in REWARDS
        from seethink.toyworld.rewards import inventory_reward
        assert REWARDS.get("inventory") is inventory_reward
        assert TASKS.get("toy_visual").classify is not None
    """)
    subprocess.run([sys.executable, "-c", code], check=True)
