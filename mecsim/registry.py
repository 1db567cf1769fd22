"""The scheduler registry: names to scheduler classes, Gymnasium style.

Four ways a scheduler becomes reachable by :func:`make`:

1. **Built-ins**, registered by name by ``schedulers.register_builtins`` (``local``,
   ``random``, ``greedy``, ``optimal``, ...). Their entry points are ``"module:Class"``
   strings, so a scheduler's module is imported only when it is made.
2. **Third-party packages**, through the entry-point group ``mecsim.schedulers``: each entry
   point's name is the id, its value the ``module:Class``. In the package's ``setup.cfg``::

       [options.entry_points]
       mecsim.schedulers =
           my_sched = my_package.my_module:MyScheduler

3. **A class path** given directly: ``make("my_package.my_module:MyScheduler", alpha=0.1)``
   (what a scenario's ``module:Class`` entry does); nothing needs registering.
4. **A trained policy**: ``make("sb3:agent.zip")`` is
   ``schedulers.sb3_policy:PolicyScheduler(path="agent.zip")``, a Stable-Baselines3 policy
   trained on :class:`mecsim.envs.gym_env.MecEnv`, or ``PolicyAgents(path=...)`` for one
   trained on the parallel env (the ``rl`` extra; see ``docs/training.md``).
   ``python -m mecsim run ... --scheduler sb3:agent.zip`` uses it.

**Checkpoints.** A scheduler item's ``checkpoint: PATH`` parameter works for every
scheduler that implements ``save``/``load``: :func:`checkpoint_params` keeps it in the
constructor's params only where the constructor accepts it (DIRS and the DRL peers read
it from their config), and the caller loads it with :func:`load_checkpoint` after
``reset``, whatever the class (``load`` must therefore be idempotent).

The built-ins and the entry points are loaded once, on the first use of the registry
(:func:`make`, :func:`registered`, :func:`spec`, :func:`register`), never at import time.
An entry point whose id is already taken (by a built-in) is ignored with a
``RuntimeWarning``.

Example::

    from mecsim.registry import make, register, registered

    register("greedy_strict", "schedulers.greedy:Greedy", max_tasks_per_mec=4)
    scheduler = make("greedy_strict")          # Greedy(max_tasks_per_mec=4)
    scheduler = make("greedy", max_tasks_per_mec=2)
    print(registered())                        # ['greedy', 'greedy_strict', 'local', ...]
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mecsim.scheduler import Scheduler

ENTRY_POINT_GROUP = "mecsim.schedulers"
BUILTIN_PACKAGE = "schedulers"
#: ``sb3:PATH`` names a Stable-Baselines3 policy file, run by a class of :data:`SB3_MODULE`.
SB3_PREFIX = "sb3:"
SB3_MODULE = "schedulers.sb3_policy"
#: Optional dependencies and the extra of ``setup.cfg`` that installs each: a scheduler
#: whose module cannot import one of them is reported as needing that extra.
EXTRA_OF_MODULE = {"torch": "learn", "gymnasium": "rl", "pettingzoo": "rl",
                   "stable_baselines3": "rl"}


class MissingExtraError(ValueError):
    """A scheduler's module needs an optional dependency that is not installed.

    Attributes:
        module: The missing top-level module (``torch``).
        extra: The extra that installs it (``learn``).
    """

    def __init__(self, label: str, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(self.needs(label))

    def needs(self, label: str) -> str:
        """``scheduler 'LABEL' needs torch: pip install 'mecsim[learn]'``."""
        return f"scheduler {label!r} needs {self.module}: pip install 'mecsim[{self.extra}]'"


@dataclass(frozen=True)
class Registration:
    """One registration.

    Attributes:
        id: The registered name.
        entry_point: ``"module:Class"`` (imported when made) or the class itself.
        default_params: Keyword arguments passed to the class unless :func:`make` overrides
            them (read-only).
        source: ``"builtin"`` (the ``schedulers`` package), ``"entry_point"`` (a third-party
            package's ``mecsim.schedulers`` entry point) or ``"user"`` (a :func:`register`
            call elsewhere).
    """

    id: str
    entry_point: str | type
    default_params: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    source: str = "user"

    @property
    def entry_point_str(self) -> str:
        """The entry point as ``"module:Class"`` text (a class is written out)."""
        if isinstance(self.entry_point, str):
            return self.entry_point
        return f"{self.entry_point.__module__}:{self.entry_point.__qualname__}"


class Registry:
    """A set of named scheduler registrations; the module keeps one (:data:`REGISTRY`).

    Args:
        group: Entry-point group read on the first lookup (``None``: none).
        builtin_package: Package imported on the first use, whose
            ``register_builtins(registry)`` registers the built-in schedulers (``None``: none).
    """

    def __init__(self, group: str | None = ENTRY_POINT_GROUP,
                 builtin_package: str | None = BUILTIN_PACKAGE) -> None:
        self._specs: dict[str, Registration] = {}
        self._group = group
        self._builtin_package = builtin_package
        self._loaded = False
        self._loading_builtins = False

    # -- registration -------------------------------------------------------------------

    def register(self, id: str, entry_point: str | type, *, override: bool = False,
                 **default_params: Any) -> Registration:
        """Register a scheduler under ``id``.

        Args:
            id: The name (no ``:``, no surrounding spaces).
            entry_point: ``"module:Class"`` (imported lazily) or a :class:`Scheduler`
                subclass.
            override: Replace an existing registration instead of raising.
            **default_params: Keyword arguments for the class; :func:`make` may override them.

        Returns:
            The stored registration.

        Raises:
            ValueError: If ``id`` is taken (and ``override`` is false), malformed, or the
                entry point is neither a ``module:Class`` string nor a Scheduler subclass.
        """
        self._ensure_loaded()  # so that a clash with a built-in is caught now
        if not isinstance(id, str) or not id or id != id.strip() or ":" in id:
            raise ValueError(f"scheduler id must be a non-empty name without ':' or surrounding "
                             f"spaces, got {id!r}")
        if isinstance(entry_point, str):
            _split_entry_point(entry_point)
        elif not (isinstance(entry_point, type) and issubclass(entry_point, Scheduler)):
            raise ValueError(f"entry point of scheduler {id!r} must be a 'module:Class' string "
                             f"or a Scheduler subclass, got {entry_point!r}")
        if id in self._specs and not override:
            raise ValueError(f"scheduler id {id!r} is already registered (to "
                             f"{self._specs[id].entry_point_str}); pass override=True to "
                             "replace it")
        source = "builtin" if self._loading_builtins else "user"
        spec = Registration(id, entry_point, MappingProxyType(dict(default_params)), source)
        self._specs[id] = spec
        return spec

    def unregister(self, id: str) -> None:
        """Remove a registration (for tests and plug-in reloads).

        Raises:
            ValueError: If ``id`` is not registered.
        """
        self._ensure_loaded()
        if id not in self._specs:
            raise ValueError(self._unknown(id))
        del self._specs[id]

    # -- lookup -------------------------------------------------------------------------

    def registered(self) -> list[str]:
        """Return every registered id, sorted (built-ins, entry points and user ones)."""
        self._ensure_loaded()
        return sorted(self._specs)

    def spec(self, id: str) -> Registration:
        """Return the registration of ``id``.

        Raises:
            ValueError: If ``id`` is not registered (the message lists the registered ids).
        """
        self._ensure_loaded()
        try:
            return self._specs[id]
        except (KeyError, TypeError):
            raise ValueError(self._unknown(id)) from None

    def extra(self, id: str) -> str | None:
        """The extra of ``setup.cfg`` a built-in scheduler needs (``learn``), else None.

        Read from the built-in package's ``EXTRAS`` without importing the scheduler; None
        for a scheduler that is not a built-in (an entry point's or a user's).

        Raises:
            ValueError: If ``id`` is not registered.
        """
        if self.spec(id).source != "builtin" or self._builtin_package is None:
            return None
        extras = getattr(_builtin_package(self._builtin_package), "EXTRAS", {})
        return extras.get(id)

    def scheduler_class(self, id_or_entry_point: str) -> type[Scheduler]:
        """Return the class a registered id or a ``module:Class`` string names (not an instance).

        Raises:
            ValueError: If the id is unknown, or the class cannot be imported or is not a
                concrete :class:`Scheduler` subclass.
        """
        cls, _, _ = self._resolve(id_or_entry_point)
        return cls

    def make(self, id_or_entry_point: str, **params: Any) -> Scheduler:
        """Build a scheduler from a registered id or a ``module:Class`` string.

        Args:
            id_or_entry_point: A registered id (see :func:`registered`) or
                ``"package.module:Class"``.
            **params: Keyword arguments for the class, over the registration's defaults.

        Returns:
            A new scheduler instance (call ``reset(seed, network)`` before using it).

        Raises:
            ValueError: If the id is unknown (the message lists the registered ids), the
                class cannot be imported or is not a concrete Scheduler subclass, or the
                class rejects a parameter (the message names the scheduler and the parameter).
        """
        cls, label, defaults = self._resolve(id_or_entry_point)
        kwargs = {**defaults, **params}
        unknown = _unknown_params(cls, kwargs)
        if unknown:
            raise ValueError(f"scheduler {label!r} ({_path(cls)}) has no parameter(s) "
                             f"{', '.join(map(repr, unknown))}; it accepts "
                             f"{_accepted(cls)}")
        try:
            scheduler = cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"scheduler {label!r} ({_path(cls)}) rejected its parameters "
                             f"{_shown(kwargs)}: {exc}") from exc
        return scheduler

    # -- internals ----------------------------------------------------------------------

    def _resolve(self, name: str) -> tuple[type[Scheduler], str, dict[str, Any]]:
        if not isinstance(name, str):
            raise ValueError(f"a scheduler is named by a registered id or a 'module:Class' "
                             f"string, got {name!r}")
        if name.startswith(SB3_PREFIX):
            path = name[len(SB3_PREFIX):]
            return load_class(sb3_entry_point(path)), name, {"path": path}
        if ":" in name:
            return load_class(name), name, {}
        spec = self.spec(name)
        if isinstance(spec.entry_point, str):
            try:
                cls = load_class(spec.entry_point)
            except MissingExtraError as exc:
                raise MissingExtraError(name, exc.module, exc.extra) from None
            except ValueError as exc:
                raise ValueError(f"scheduler {name!r}: {exc}") from exc
        else:
            cls = spec.entry_point
        return cls, name, dict(spec.default_params)

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        self._loaded = True  # set first: the built-ins register through register()
        if self._builtin_package is not None:
            self._loading_builtins = True
            try:
                package = _builtin_package(self._builtin_package)
                package.register_builtins(self)
            except Exception:
                self._loaded = False
                self._specs = {k: v for k, v in self._specs.items() if v.source != "builtin"}
                raise
            finally:
                self._loading_builtins = False
        if self._group is not None:
            self._load_entry_points()

    def _load_entry_points(self) -> None:
        for ep in importlib.metadata.entry_points(group=self._group):
            if ep.name in self._specs:
                taken = self._specs[ep.name]
                if taken.entry_point_str != ep.value:
                    warnings.warn(f"entry point {ep.name!r} = {ep.value!r} of group "
                                  f"{self._group!r} ignored: the id is already registered to "
                                  f"{taken.entry_point_str}", RuntimeWarning, stacklevel=3)
                continue
            try:
                _split_entry_point(ep.value)
            except ValueError as exc:
                warnings.warn(f"entry point {ep.name!r} of group {self._group!r} ignored: {exc}",
                              RuntimeWarning, stacklevel=3)
                continue
            self._specs[ep.name] = Registration(ep.name, ep.value, MappingProxyType({}),
                                                 "entry_point")

    def _unknown(self, id: object) -> str:
        return (f"unknown scheduler {id!r}; registered: {', '.join(sorted(self._specs))} "
                "(or give a class as 'module:Class')")


def _builtin_package(name: str) -> Any:
    """Import mecsim's own ``schedulers`` package, never a namesake of the working folder.

    ``python -m mecsim`` puts the working folder first on ``sys.path``, so a user's
    ``schedulers.py`` there would be found first. mecsim's package sits beside ``mecsim/``
    (in a checkout and in an installed wheel alike): it is loaded from there by path and
    registered under its name, so ``schedulers.greedy`` and the rest resolve inside it.
    """
    home = Path(__file__).resolve().parent.parent / name / "__init__.py"
    loaded = sys.modules.get(name)
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() == home:
        return loaded
    if name != BUILTIN_PACKAGE or not home.is_file():
        return importlib.import_module(name)
    spec = importlib.util.spec_from_file_location(name, home,
                                                  submodule_search_locations=[str(home.parent)])
    package = importlib.util.module_from_spec(spec)
    shadowed = sys.modules.get(name)
    sys.modules[name] = package
    try:
        spec.loader.exec_module(package)
    except BaseException:
        if shadowed is not None:
            sys.modules[name] = shadowed
        else:
            del sys.modules[name]
        raise
    return package


def load_class(entry_point: str) -> type[Scheduler]:
    """Import ``"package.module:Class"`` (``Class`` may be dotted: ``Outer.Inner``).

    Raises:
        MissingExtraError: If the module needs an optional dependency that is not installed
            (:data:`EXTRA_OF_MODULE`): a ``ValueError`` whose message names the extra.
        ValueError: If the string is malformed, the module or attribute cannot be imported,
            or the object is not a concrete :class:`Scheduler` subclass; the message names it.
    """
    module_name, attr = _split_entry_point(entry_point)
    try:
        obj: Any = (_import_file(module_name) if module_name.endswith(".py")
                    else _import_module(module_name))
    except Exception as exc:  # noqa: BLE001 - any import failure is reported the same way
        missing = (getattr(exc, "name", None) or "").partition(".")[0] \
            if isinstance(exc, ImportError) else ""
        if missing in EXTRA_OF_MODULE:  # an optional dependency: name its extra
            raise MissingExtraError(entry_point, missing, EXTRA_OF_MODULE[missing]) from None
        raise ValueError(f"cannot import scheduler {entry_point!r}: module {module_name!r} "
                         f"failed to import ({type(exc).__name__}: {exc})") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"cannot import scheduler {entry_point!r}: {module_name!r} has no "
                             f"attribute {attr!r}") from None
    if not (isinstance(obj, type) and issubclass(obj, Scheduler)):
        raise ValueError(f"{entry_point!r} is not a Scheduler subclass (it is {obj!r}); "
                         "derive it from mecsim.scheduler.Scheduler")
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        raise ValueError(f"{entry_point!r} is an abstract Scheduler (implement {missing})")
    return obj


def sb3_policy_path(name: str) -> str | None:
    """The policy file of an ``sb3:PATH`` name, or None for any other name."""
    return name[len(SB3_PREFIX):] if name.startswith(SB3_PREFIX) else None


def sb3_entry_point(path: str) -> str:
    """``module:Class`` running the Stable-Baselines3 policy at ``path``.

    ``PolicyScheduler`` for a policy trained on ``MecEnv``, ``PolicyAgents`` for one trained
    on the parallel env; read from the file.
    """
    module = _import_module(SB3_MODULE)
    return f"{SB3_MODULE}:{module.scheduler_class_for(path).__qualname__}"


def _import_module(module_name: str) -> Any:
    """Import a module, searching the working folder last.

    ``python -m mecsim`` puts the working folder first on ``sys.path``; the ``mecsim``
    script does not. Appending it makes ``my_module:Class`` work from both, and never lets
    a file of the working folder shadow an installed package. mecsim's own ``schedulers``
    (``schedulers.greedy:Greedy``) comes from beside ``mecsim/`` (:func:`_builtin_package`)
    even where ``python -m`` lets a ``schedulers.py`` of the working folder come first.
    """
    if module_name.partition(".")[0] == BUILTIN_PACKAGE:  # never a namesake in the folder
        _builtin_package(BUILTIN_PACKAGE)
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.append(here)
    return importlib.import_module(module_name)


def _import_file(path: str) -> Any:
    """Import a ``.py`` file (relative to the working folder) once, under a private name.

    As when Python runs the file, its folder is searched for the modules it imports (last,
    so that a file there never shadows an installed package).
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise FileNotFoundError(f"no such file: {file}")
    if str(file.parent) not in sys.path:
        sys.path.append(str(file.parent))
    digest = hashlib.sha1(str(file).encode()).hexdigest()[:12]
    name = f"mecsim_user_{file.stem}_{digest}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return module


def _split_entry_point(entry_point: str) -> tuple[str, str]:
    text = entry_point.strip()
    if ".py:" in text:  # a file: path/to/file.py:Class (the path may hold a drive's colon)
        module_name, sep, attr = text.rpartition(":")
        return _checked_attr(entry_point, module_name, attr)
    module_name, sep, attr = text.partition(":")
    ok = bool(sep) and all(p.isidentifier() for p in module_name.split(".")) and all(
        p.isidentifier() for p in attr.split("."))
    if not ok:
        raise ValueError(f"entry point must look like 'package.module:Class' or "
                         f"'path/to/file.py:Class', got {entry_point!r}")
    return module_name, attr


def _checked_attr(entry_point: str, module_name: str, attr: str) -> tuple[str, str]:
    if not (module_name and attr and all(p.isidentifier() for p in attr.split("."))):
        raise ValueError(f"entry point must look like 'package.module:Class' or "
                         f"'path/to/file.py:Class', got {entry_point!r}")
    return module_name, attr


def _unknown_params(cls: type, kwargs: dict[str, Any]) -> list[str]:
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return []
    params = sig.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return []
    named = {p.name for p in params if p.kind in (inspect.Parameter.KEYWORD_ONLY,
                                                   inspect.Parameter.POSITIONAL_OR_KEYWORD)}
    return sorted(k for k in kwargs if k not in named)


def _accepted(cls: type) -> str:
    try:
        names = [p.name for p in inspect.signature(cls).parameters.values()
                 if p.kind in (inspect.Parameter.KEYWORD_ONLY,
                               inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return "(unknown)"
    return ", ".join(names) if names else "no parameters"


def _path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _shown(kwargs: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in sorted(kwargs.items())) + "}"


#: The process-wide registry behind the module-level functions.
REGISTRY = Registry()


def register(id: str, entry_point: str | type, *, override: bool = False,
             **default_params: Any) -> Registration:
    """Register a scheduler in the process-wide registry (see :meth:`Registry.register`)."""
    return REGISTRY.register(id, entry_point, override=override, **default_params)


def make(id_or_entry_point: str, **params: Any) -> Scheduler:
    """Build a scheduler by id or ``module:Class`` (see :meth:`Registry.make`)."""
    return REGISTRY.make(id_or_entry_point, **params)


def registered() -> list[str]:
    """Return the sorted ids of every registered scheduler (see :meth:`Registry.registered`)."""
    return REGISTRY.registered()


def spec(id: str) -> Registration:
    """Return the registration of ``id`` (see :meth:`Registry.spec`)."""
    return REGISTRY.spec(id)


def extra(id: str) -> str | None:
    """The extra a registered scheduler needs, or None (see :meth:`Registry.extra`)."""
    return REGISTRY.extra(id)


def scheduler_class(id_or_entry_point: str) -> type[Scheduler]:
    """Return the class behind an id or ``module:Class`` (see :meth:`Registry.scheduler_class`)."""
    return REGISTRY.scheduler_class(id_or_entry_point)


def unregister(id: str) -> None:
    """Remove a registration from the process-wide registry."""
    REGISTRY.unregister(id)


#: The generic scheduler parameter naming a checkpoint to start from.
CHECKPOINT_PARAM = "checkpoint"


def accepts_param(id_or_entry_point: str, param: str) -> bool:
    """Whether the scheduler's constructor takes ``param`` (by name or ``**kwargs``).

    Raises:
        ValueError: If the scheduler cannot be resolved.
    """
    return not _unknown_params(scheduler_class(id_or_entry_point), {param: None})


def checkpoint_params(id_or_entry_point: str, params: dict[str, Any]
                      ) -> tuple[dict[str, Any], str | None]:
    """Split the generic ``checkpoint`` parameter off a scheduler's params.

    Args:
        id_or_entry_point: The scheduler's id or ``module:Class``.
        params: Its params (not changed).

    Returns:
        The params to make it with (``checkpoint`` kept only where the constructor accepts
        it, or where the scheduler cannot be resolved: :func:`make` then says why), and the
        checkpoint to :func:`load_checkpoint` after ``reset`` (None without one).
    """
    path = params.get(CHECKPOINT_PARAM)
    if path is None:
        return dict(params), None
    try:
        keep = accepts_param(id_or_entry_point, CHECKPOINT_PARAM)
    except ValueError:
        keep = True
    made = dict(params) if keep else {k: v for k, v in params.items() if k != CHECKPOINT_PARAM}
    return made, str(path)


def load_checkpoint(scheduler: Scheduler, path: str | Path) -> None:
    """Load ``path`` into a scheduler that was ``reset``: its own :meth:`Scheduler.load`.

    Raises:
        ValueError: If ``load`` fails (its own ``ValueError``, or an ``OSError``,
            ``KeyError`` or ``TypeError`` it raised, named with the file).
    """
    try:
        scheduler.load(path)
    except ValueError:
        raise
    except (OSError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot load checkpoint {path} into {type(scheduler).__name__}: "
                         f"{type(exc).__name__}: {exc}") from exc
