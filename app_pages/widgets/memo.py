"""The pages' shared results cache: an app-level memo that Streamlit's cache commands do not reach.

Any visitor can send the server Streamlit's `clear_cache` message (the toolbar only hides the
menu item), and it empties st.cache_data and st.cache_resource for every session; no option
turns the message off. The pages therefore keep their results here, which behaves like the
st.cache_data uses it replaces:

- keyed on the arguments, except those whose names start with "_" (not part of the key);
- least recently used entries go beyond max_entries;
- every caller gets its own deep copy of the stored value, so sessions cannot change each
  other's results;
- concurrent callers of one missing key wait for the one that computes it;
- show_spinner: a message shown with st.spinner while a value is computed (False: none);
- an exception is not cached.

Each computation is logged at INFO on this module's logger; LLE_MEMO_LOG=1 sends those lines
to stderr (the server log), which is how the tests see whether a value came from the memo.
"""

import copy
import functools
import inspect
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)
if os.environ.get("LLE_MEMO_LOG") == "1" and not log.handlers:
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)


def _key_part(value: Any) -> Hashable:
    """A value as part of a key: its type goes with it (1, 1.0 and True are different keys)."""
    if isinstance(value, tuple | list):
        return type(value).__name__, tuple(_key_part(v) for v in value)
    hash(value)  # TypeError for an unhashable argument: it cannot be part of a key
    return type(value).__qualname__, value


class Memo:
    """The memo of one function; see the module docstring."""

    def __init__(self, func: Callable[..., Any], max_entries: int, show_spinner: bool | str):
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.func, self.max_entries, self.show_spinner = func, max_entries, show_spinner
        self.name = f"{Path(func.__code__.co_filename).stem}.{func.__qualname__}"
        self.signature = inspect.signature(func)
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()  # guards _entries and _computing
        self._computing: dict[Hashable, threading.Lock] = {}  # key -> held while computed
        functools.update_wrapper(self, func)

    def key(self, *args: Any, **kwargs: Any) -> Hashable:
        """The key of a call: its bound arguments, defaults applied, "_" names left out."""
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        items = [(k, v) for k, v in bound.arguments.items() if not k.startswith("_")]
        try:
            return tuple((k, _key_part(v)) for k, v in items)
        except TypeError as err:
            raise TypeError(
                f"{self.name}: every argument whose name does not start with '_' must be "
                f"hashable to be part of the cache key ({err})"
            ) from err

    def _get(self, key: Hashable) -> object | None:
        with self._lock:
            blob = self._entries.get(key)
            if blob is not None:
                self._entries.move_to_end(key)
            return blob

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key = self.key(*args, **kwargs)
        blob = self._get(key)
        if blob is None:
            if self.show_spinner:
                text = self.show_spinner if isinstance(self.show_spinner, str) else None
                with st.spinner(text or f"Running `{self.func.__qualname__}(...)`."):
                    blob = self._compute(key, args, kwargs)
            else:
                blob = self._compute(key, args, kwargs)
        return copy.deepcopy(blob)

    def _compute(self, key: Hashable, args: tuple, kwargs: dict) -> object:
        with self._lock:
            computing = self._computing.setdefault(key, threading.Lock())
        try:
            with computing:  # one caller computes a key; the others wait for it, then read it
                blob = self._get(key)
                if blob is None:
                    start = time.perf_counter()
                    blob = self.func(*args, **kwargs)
                    took = time.perf_counter() - start
                    with self._lock:
                        self._entries[key] = blob
                        while len(self._entries) > self.max_entries:
                            self._entries.popitem(last=False)
                        size = len(self._entries)
                    log.info("%s: computed in %.2f s (%d cached)", self.name, took, size)
                return blob
        finally:
            with self._lock:
                if self._computing.get(key) is computing:
                    del self._computing[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        """Forget every entry (the app never calls it; for tests)."""
        with self._lock:
            self._entries.clear()


_MEMOS: dict[tuple[str, str], Memo] = {}  # (file, qualified name) -> its memo, for the process
_MEMOS_LOCK = threading.Lock()


def memo(*, max_entries: int, show_spinner: bool | str = True) -> Callable[[F], F]:
    """Decorator: cache a function's results app-wide, as @st.cache_data(max_entries=...,
    show_spinner=...) did, out of reach of the clear_cache message.

    A page script runs anew on every rerun and defines its functions again: a function of the
    same file and name gets the same memo (its entries kept, the new definition called)."""

    def decorate(func: F) -> F:
        where = (func.__code__.co_filename, func.__qualname__)
        with _MEMOS_LOCK:
            found = _MEMOS.get(where)
            if found is None or found.signature != inspect.signature(func):
                found = _MEMOS[where] = Memo(func, max_entries, show_spinner)
            else:
                found.func, found.show_spinner = func, show_spinner
                found.max_entries = max_entries
        return found  # type: ignore[return-value]

    return decorate
