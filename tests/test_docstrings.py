"""Every public name of kis_async says what it gives: the API reference is built from
these docstrings, so a missing one is a gap in the documentation and fails here.

The rule, checked on the objects a user gets (lazy exports resolved by ``getattr``):

* Modules: ``kis_async`` and every public module under it (no path segment starting with
  ``_``, found by walking the package, so a new subpackage is covered without editing this
  file) has a docstring, and so does every module its ``__all__`` exports.
* Names: every class and function in a public module's ``__all__`` that kis_async defines
  has a docstring of its own; the signature ``dataclasses`` and ``NamedTuple`` write for an
  undocumented class does not count. Names from other packages are theirs to document.
* Members: for every such class, each public attribute (no leading ``_``, so dunders are
  out) defined in the class or in a kis_async base class it inherits from, that is a
  function, a ``staticmethod`` or ``classmethod``, a property (``property``,
  ``enum.property``, ``functools.cached_property``) or a nested class, has a docstring of
  its own: the reference does not show a docstring inherited from an overridden method.
  Members inherited from pydantic, the standard library or any other third-party base are
  out, and so are pydantic validators and serializers.
* Out of the rule: data (constants, type aliases, enum members, pydantic and dataclass
  fields), which cannot carry a docstring at run time; their documentation is a
  ``description=``, a ``#:`` comment or the class docstring.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from types import ModuleType
from typing import cast

import pytest

import kis_async


def _public_modules() -> list[str]:
    names = ["kis_async"]
    for info in pkgutil.walk_packages(kis_async.__path__, "kis_async."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


MODULES = _public_modules()


def _ours(value: object) -> bool:
    module = getattr(value, "__module__", None) or ""
    return module == "kis_async" or module.startswith("kis_async.")


def _own_doc(value: object) -> str | None:
    if inspect.isclass(value):
        doc = vars(value).get("__doc__")
        if not isinstance(doc, str):
            return None
        # Both write "Name(field, ...)" into an undocumented class.
        generated = dataclasses.is_dataclass(value) or (
            issubclass(value, tuple) and hasattr(value, "_fields")
        )
        if generated and doc.startswith(f"{value.__name__}("):
            return None
        return doc.strip() or None
    doc = getattr(value, "__doc__", None)
    return doc.strip() if isinstance(doc, str) and doc.strip() else None


def _documentable(member: object) -> object | None:
    """The object whose docstring documents a class attribute, or None for data."""
    if isinstance(member, staticmethod | classmethod):
        member = member.__func__
    if isinstance(member, functools.cached_property):
        return member.func
    fget = getattr(member, "fget", None)  # property, enum.property
    if fget is not None:
        return cast(object, fget)
    if inspect.isfunction(member) or (inspect.isclass(member) and _ours(member)):
        return member
    return None


def _validators(cls: type) -> set[str]:
    decorators = getattr(cls, "__pydantic_decorators__", None)
    if decorators is None:
        return set()
    names: set[str] = set()
    for kind in (
        "validators",
        "field_validators",
        "root_validators",
        "field_serializers",
        "model_serializers",
        "model_validators",
    ):
        names.update(getattr(decorators, kind, {}))
    return names


def _class_gaps(cls: type, where: str, seen: set[tuple[str, str]]) -> Iterator[str]:
    skipped = _validators(cls) | set(getattr(cls, "model_fields", {}))
    for base in cls.__mro__:
        if not _ours(base):
            continue
        for attribute, member in vars(base).items():
            key = (f"{base.__module__}.{base.__qualname__}", attribute)
            if attribute.startswith("_") or attribute in skipped or key in seen:
                continue
            seen.add(key)
            target = _documentable(member)
            if target is None or _own_doc(target):
                continue
            owner = where if base is cls else f"{where} (from {base.__qualname__})"
            yield f"{owner}.{attribute}"
            if inspect.isclass(target):
                yield from _class_gaps(target, f"{owner}.{attribute}", seen)


def _module_gaps(module: ModuleType, seen: set[tuple[str, str]]) -> Iterator[str]:
    if not _own_doc(module):
        yield f"{module.__name__} (module)"
    for name in getattr(module, "__all__", []):
        value = getattr(module, name)  # resolves lazy exports
        where = f"{module.__name__}.{name}"
        if inspect.ismodule(value):
            if not _own_doc(value):
                yield f"{where} (module)"
            continue
        if not (inspect.isclass(value) or inspect.isfunction(value)) or not _ours(value):
            continue
        key = (f"{value.__module__}.{value.__qualname__}", "")
        if key in seen:
            continue
        seen.add(key)
        if not _own_doc(value):
            yield where
        if inspect.isclass(value):
            yield from _class_gaps(value, where, seen)


def undocumented(module_name: str) -> list[str]:
    """Public names reached from one module that lack a docstring, by dotted path."""
    return list(_module_gaps(importlib.import_module(module_name), set()))


def test_every_public_subpackage_is_walked() -> None:
    # The walk finds the packages the reference documents; a rename that hid one from the
    # walk would silently drop its names from this check.
    for expected in (
        "kis_async.mock",
        "kis_async.stream",
        "kis_async.engine",
        "kis_async.cli",
        "kis_async.backfill",
        "kis_async.frames",
        "kis_async.plot",
        "kis_async.metrics",
        "kis_async.market",
    ):
        assert expected in MODULES


@pytest.mark.parametrize("module_name", MODULES)
def test_public_names_have_docstrings(module_name: str) -> None:
    assert undocumented(module_name) == []


def test_the_rule_catches_what_it_promises(monkeypatch: pytest.MonkeyPatch) -> None:
    # A throwaway module of undocumented things the rule covers, and of things it leaves out.
    import pydantic

    module = ModuleType("kis_async.fake", "A module for the checker's own test.")

    class Model(pydantic.BaseModel):
        """Documented."""

        price: int = 0

        @pydantic.field_validator("price")
        @classmethod
        def check_price(cls, value: int) -> int:
            return value

        def method(self) -> None:
            pass

        @property
        def prop(self) -> int:
            return 1

    @dataclasses.dataclass
    class Data:
        shares: int

    def function() -> None:
        pass

    for value in (Model, Data, function):
        value.__module__ = "kis_async.fake"
    module.__dict__.update(
        Model=Model, Data=Data, function=function, __all__=["Model", "Data", "function"]
    )
    monkeypatch.setitem(__import__("sys").modules, "kis_async.fake", module)

    assert sorted(undocumented("kis_async.fake")) == [
        "kis_async.fake.Data",
        "kis_async.fake.Model.method",
        "kis_async.fake.Model.prop",
        "kis_async.fake.function",
    ]


def test_the_request_event_and_hooks_are_documented() -> None:
    from kis_async import AsyncKISClient, RequestEvent
    from kis_async.cli import build_parser, main

    for value in (
        RequestEvent,
        AsyncKISClient.add_request_hook,
        AsyncKISClient.remove_request_hook,
        main,
        build_parser,
    ):
        assert inspect.getdoc(value), value
