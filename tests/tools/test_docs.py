"""Every public name of the tool packages says what it gives (the API reference is built
from these docstrings)."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = ["kis_async.backfill", "kis_async.frames", "kis_async.plot", "kis_async.metrics"]


def _undocumented(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    missing = [] if inspect.getdoc(module) else [module_name]
    for name in module.__all__:
        value = getattr(module, name)
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue
        if not inspect.getdoc(value):
            missing.append(f"{module_name}.{name}")
        if inspect.isclass(value):
            for attribute, member in vars(value).items():
                function = member.fget if isinstance(member, property) else member
                if attribute.startswith("_") or not inspect.isfunction(function):
                    continue
                if not inspect.getdoc(getattr(value, attribute, function)):
                    missing.append(f"{module_name}.{name}.{attribute}")
    return missing


@pytest.mark.parametrize("module_name", MODULES)
def test_public_names_have_docstrings(module_name: str) -> None:
    assert _undocumented(module_name) == []


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
