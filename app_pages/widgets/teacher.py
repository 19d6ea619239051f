"""Teacher links: `?hide=K1,K2&lock=K3` hides or locks URL-bound controls, named by URL key.

Every URL-bound widget of every page is drawn through `control`. A hidden control is still
drawn, into a placeholder that is emptied at once: Streamlit binds it and reads its URL value
with the widget's own parsing and checks (and the helpers of common.py with theirs), so the page
uses the link's value, or the default, and nothing of the control stays on the page. A locked
control is drawn disabled. hide= and lock= are checked on every read: at most MAX_CHARS
characters, at most MAX_KEYS keys, each made of KEY_CHARS only; anything else is ignored and
named in a caption, as are keys that are not controls of the page.

Session state this module owns:
  "teacher.drawn"     {URL key: (widget kind, label)} of the controls drawn so far in this run
  "teacher.controls"  the same, of the run before (however far it got: a page may st.stop);
                      the Share dialog lists them, as the page showed them when it was opened
"""

import re
from collections.abc import Callable
from urllib.parse import urlencode

import streamlit as st

HIDE, LOCK = "hide", "lock"
MAX_CHARS = 2000  # of hide= or lock= (all its values together)
MAX_KEYS = 64
KEY_CHARS = re.compile(r"[A-Za-z0-9_.\-]{1,80}")
DRAWN, CONTROLS = "teacher.drawn", "teacher.controls"


def _asked(param: str) -> tuple[list[str], list[str]]:
    """(the well-formed keys of hide= or lock=, the entries ignored as malformed)."""
    raw = ",".join(st.query_params.get_all(param))
    if len(raw) > MAX_CHARS:
        return [], [f"{param}= ({len(raw)} characters, at most {MAX_CHARS})"]
    entries = [e.strip() for e in raw.split(",") if e.strip()]
    good = [e for e in entries if KEY_CHARS.fullmatch(e)]
    bad = [e for e in entries if not KEY_CHARS.fullmatch(e)]
    return good[:MAX_KEYS], bad + good[MAX_KEYS:]


def hidden_keys() -> frozenset[str]:
    return frozenset(_asked(HIDE)[0])


def locked_keys() -> frozenset[str]:
    return frozenset(_asked(LOCK)[0])


def control(widget: Callable, *args, key: str, **kwargs):
    """widget(*args, key=key, **kwargs) (st.selectbox, a column's multiselect, …), hidden or
    locked as the URL asks; its value either way."""
    label = args[0] if args else kwargs.get("label", key)
    st.session_state.setdefault(DRAWN, {})[key] = (widget.__name__, str(label))
    if key in hidden_keys():
        owner = getattr(widget, "__self__", None)
        place = st.empty() if owner is None else owner.empty()
        value = getattr(place, widget.__name__)(*args, key=key, **kwargs)
        place.empty()  # bound and read, then gone from the page
        return value
    if key in locked_keys():
        kwargs["disabled"] = True
    return widget(*args, key=key, **kwargs)


def begin() -> None:
    """Start a script run's record of its controls; the last run's becomes the one Share lists."""
    st.session_state[CONTROLS] = st.session_state.get(DRAWN, {})
    st.session_state[DRAWN] = {}


def end() -> None:
    """After a page ran to its end: a caption naming the hide/lock keys that were ignored."""
    drawn = st.session_state.get(DRAWN, {})
    (hide, bad_hide), (lock, bad_lock) = _asked(HIDE), _asked(LOCK)
    unknown = [k for k in dict.fromkeys(hide + lock) if k not in drawn]
    notes = []
    if unknown:  # well-formed keys: no Markdown can hide in a code span of them
        notes.append("not controls of this view: " + ", ".join(f"`{k}`" for k in unknown))
    if bad_hide or bad_lock:
        notes.append(f"{len(bad_hide) + len(bad_lock)} entries that are not control keys")
    if notes:
        st.sidebar.caption(f"This link's hide/lock lists were partly ignored ({'; '.join(notes)}).")


def share_query(hide: list[str], lock: list[str]) -> str:
    """The current query string with these hide= and lock= lists (empty ones left out)."""
    pairs = [
        (k, v) for k in st.query_params if k not in (HIDE, LOCK) for v in st.query_params.get_all(k)
    ]
    pairs += [(name, ",".join(keys)) for name, keys in ((HIDE, hide), (LOCK, lock)) if keys]
    return urlencode(pairs)


def app_root(page_url: str) -> str:
    """The app's address (ending in '/') from the address of the page `page_url` shown now."""
    url = (st.context.url or "").split("?", 1)[0].split("#", 1)[0]
    if page_url and url.endswith("/" + page_url):
        url = url[: -len(page_url)]
    return url if url.endswith("/") else url + "/"


@st.dialog("Share this view")
def share_dialog(page_url: str) -> None:
    """Checkboxes per control of this page (hide / lock); the link, with a copy button."""
    controls = st.session_state.get(CONTROLS, {})
    st.caption(
        "The link opens this page with its current settings. Hidden controls keep their value "
        "and are not shown; locked ones are shown but cannot be changed."
    )
    asked = {HIDE: hidden_keys(), LOCK: locked_keys()}
    head = st.columns([3, 1, 1])
    for col, text in zip(head, ("**Control**", "**Hide**", "**Lock**"), strict=True):
        col.markdown(text)
    ticked: dict[str, list[str]] = {HIDE: [], LOCK: []}
    for key, (_, label) in controls.items():
        row = st.columns([3, 1, 1], vertical_alignment="center")
        row[0].markdown(f"{label} · `{key}`")
        for col, what in zip(row[1:], (HIDE, LOCK), strict=True):
            on = key in asked[what]
            if col.checkbox(
                f"{what} {key}", on, key=f"share.{what}.{key}", label_visibility="collapsed"
            ):
                ticked[what].append(key)
    hidden, locked = ticked[HIDE], ticked[LOCK]
    query = share_query(hidden, [k for k in locked if k not in hidden])
    link = app_root(page_url) + page_url
    st.code(f"{link}?{query}" if query else link, language=None, wrap_lines=True)


def share_button(page_url: str) -> None:
    """The "Share this view" button of the page `page_url`, which opens the dialog."""
    if st.button("Share this view", icon=":material/share:", key="teacher.share"):
        share_dialog(page_url)
