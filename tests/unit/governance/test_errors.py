"""One root for the factory's errors (governance/errors.py), one family per package, and
the CLI's way of ending on them: a user error is one line and exit 2, never a traceback."""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

PACKAGES = ("governance", "ingest", "transforms", "vectorstore", "pipeline", "aifactory", "assets")
# Every module of the six is imported: none has side effects heavier than its imports.
SKIPPED: dict[str, str] = {}
# Exceptions defined in the packages that stay outside the root, each with why.
OUTSIDE_THE_ROOT = {
    # Control flow, not an error: asks a wait to return early; follow.py catches it.
    "pipeline.stream.StopRequested",
    # An HTTP answer in flight (status, title, headers): raised and answered inside one
    # request by the API's own handler; its reader is an HTTP client, not the CLI.
    "vectorstore.api.problems.ApiProblem",
}
FAMILIES = {  # package -> (its errors module, its family base)
    "governance": ("governance.errors", "GovernanceError"),
    "ingest": ("ingest.errors", "IngestError"),
    "transforms": ("transforms.errors", "TransformError"),
    "vectorstore": ("vectorstore.errors", "VectorStoreError"),
    "pipeline": ("pipeline.errors", "PipelineError"),
    "aifactory": ("aifactory.errors", "CommandError"),
}


def modules() -> Iterator[ModuleType]:
    for name in PACKAGES:
        package = importlib.import_module(name)
        yield package

        def unreadable(module: str) -> None:
            raise ImportError(f"cannot walk {module}")

        for info in pkgutil.walk_packages(package.__path__, f"{name}.", onerror=unreadable):
            if info.name not in SKIPPED:
                yield importlib.import_module(info.name)


def defined_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in modules():
        for obj in vars(module).values():
            if inspect.isclass(obj) and obj.__module__ == module.__name__ and issubclass(obj, BaseException):
                found[f"{module.__name__}.{obj.__qualname__}"] = obj
    return found


@pytest.fixture(scope="module")
def exceptions() -> dict[str, type[BaseException]]:
    return defined_exceptions()


def test_every_exception_of_the_packages_descends_from_the_root(exceptions: dict[str, type[BaseException]]) -> None:
    from governance.errors import FactoryError

    assert len(exceptions) > 20, sorted(exceptions)  # the walk found the packages' errors
    outside = {name for name, cls in exceptions.items() if not issubclass(cls, FactoryError)}
    assert outside == OUTSIDE_THE_ROOT, "derive from the package's family in its errors.py, or list it with why"


def test_each_class_joins_the_family_of_its_own_package(exceptions: dict[str, type[BaseException]]) -> None:
    wrong = []
    for name, cls in exceptions.items():
        if name in OUTSIDE_THE_ROOT or name == "governance.errors.FactoryError":
            continue
        module, family = FAMILIES[name.split(".")[0]]
        if not issubclass(cls, getattr(importlib.import_module(module), family)):
            wrong.append(f"{name} is not a {family}")
    assert not wrong, wrong


def test_the_root_and_each_family_live_in_an_errors_module(exceptions: dict[str, type[BaseException]]) -> None:
    from governance.errors import FactoryError, GovernanceError

    assert FactoryError.__module__ == "governance.errors" and FactoryError.__bases__ == (Exception,)
    for module, family in FAMILIES.values():
        cls = getattr(importlib.import_module(module), family)
        assert cls.__module__ == module, family
        assert cls.__bases__ == (FactoryError,), family
    # The floor's and the CLI's errors are their own, not governance's worn to be caught.
    assert not [name for name, cls in exceptions.items()
                if name.startswith(("aifactory.", "pipeline.")) and issubclass(cls, GovernanceError)]


def test_the_old_import_paths_still_work() -> None:
    from aifactory.commands import UsageError
    from aifactory.errors import CommandError
    from aifactory.evaluate import EvaluationError
    from pipeline.deletes import DeleteRequestError
    from pipeline.errors import PipelineError
    from transforms.tokens import TokenizerError
    from transforms.worker import TransformWorkerError
    from vectorstore.edge import IndexBusyError
    from vectorstore.onnx_backend import OnnxUnavailable
    from vectorstore.qdrant import IndexUnavailable
    from vectorstore.search import SearchError

    assert issubclass(UsageError, CommandError) and issubclass(EvaluationError, CommandError)
    assert issubclass(DeleteRequestError, PipelineError)
    # The built-in base each had is kept: a caller catching RuntimeError or ValueError still does.
    for cls in (TokenizerError, TransformWorkerError, IndexBusyError, OnnxUnavailable, IndexUnavailable):
        assert issubclass(cls, RuntimeError), cls
    assert issubclass(SearchError, ValueError)


# --- the CLI ----------------------------------------------------------------------------


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty data directory, and main's process-wide settings put back afterwards."""
    import aifactory.malloc

    monkeypatch.setenv("AIFACTORY_HOME", str(tmp_path))
    monkeypatch.setattr(aifactory.malloc, "limit_arenas", lambda: False)  # mallopt is for the real process
    kafka = logging.getLogger("kafka")
    level = kafka.level
    try:
        yield tmp_path
    finally:
        kafka.setLevel(level)


def raising(exc: BaseException) -> Callable[..., None]:
    def command(*_: object) -> None:
        raise exc

    return command


def user_errors() -> list[tuple[list[str], BaseException]]:
    from transforms.tokens import TokenizerError
    from transforms.worker import TransformWorkerError
    from vectorstore.onnx_backend import OnnxUnavailable
    from vectorstore.qdrant import IndexUnavailable

    return [
        (["status"], IndexUnavailable("cannot reach Qdrant at http://qdrant:6333; check QDRANT_URL")),
        (["replay", "--json"], TransformWorkerError("the transform worker exited with code 1; its log is w.log")),
        (["index", "--json"], OnnxUnavailable("the ONNX backend needs onnxruntime: pip install onnxruntime")),
        (["usage", "--json"], TokenizerError("/models/x has no tokenizer.json; point AIFACTORY_EMBEDDING_MODEL")),
    ]


@pytest.mark.parametrize("case", range(len(user_errors())))
def test_a_user_error_in_a_command_is_one_line_and_exit_2(case: int, cli_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from aifactory import commands
    from aifactory.cli import main

    argv, exc = user_errors()[case]
    monkeypatch.setitem(commands.COMMANDS, argv[0], raising(exc))
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err == f"aifactory {argv[0]}: {exc}\n" and not out
    assert not (cli_home / "logs" / "errors.log").exists()  # nothing unexpected was logged


def test_a_bug_in_a_command_is_still_unexpected(cli_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from aifactory import commands
    from aifactory.cli import main

    monkeypatch.setitem(commands.COMMANDS, "status", raising(KeyError("region")))
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert "aifactory status: unexpected error: KeyError: 'region'" in err and "Traceback" not in err
    assert "Traceback" in (cli_home / "logs" / "errors.log").read_text(encoding="utf-8")
