"""Widgets the pages share: the sidebar's settings, URL-bound numbers, loss parameter sliders,
and the escaping of outside text for Markdown and file names.

View-defining widgets use Streamlit's `bind="query-params"`: their values live in the URL, so a
link reproduces the view. Numbers reach the URL's widgets only through url_number_input,
url_slider and url_select_slider: a URL value that is not a finite number inside the widget's
range (inf, nan, 1e309, 400 digits, 0x10, out of range) is dropped from the URL and the widget
starts at its default. Every URL-bound widget is drawn through teacher.control, so a teacher
link's hide= and lock= reach it (tests/test_teacher_links.py checks the whole app for that).
"""

import hashlib
import math
import re
import string
from collections.abc import Sequence

import streamlit as st

from app_pages.widgets.teacher import control
from explorer.losses import EXPRESSION_PREFIX, LossSpec, get_loss

URL = "query-params"


def _url_values(key: str) -> list[str]:
    """The URL's values for key (the last one is the one a widget would read)."""
    return st.query_params.get_all(key)


def _number_fits(raw: str, low: float, high: float, integer: bool) -> bool:
    """raw reads as a finite number in [low, high] (a whole one if integer)."""
    try:
        value = float(raw)
    except ValueError:
        return False
    if not math.isfinite(value) or not low <= value <= high:
        return False
    return value.is_integer() or not integer


def _url_number_fits(key: str, low: float, high: float, integer: bool, *, last: bool) -> bool:
    """The URL holds no value for key, or one the widget can take.

    last: the widget reads only the last value (number_input); else it needs exactly one (slider).
    """
    values = _url_values(key)
    if not values:
        return True
    if not last and len(values) != 1:
        return False
    return _number_fits(values[-1], low, high, integer)


URL_RERUNS = "url.reruns"  # session state: reruns asked for to clean the URL (capped)
MAX_URL_RERUNS = 32


def _bound(widget, key: str, fits: bool, *args, **kwargs):
    """The widget, bound to the URL when its URL value fits.

    Otherwise it is drawn unbound (so it never parses that value: it shows its default, or the
    session's value), the value leaves the URL, and the script starts again on the clean URL,
    where the widget is bound as usual (bound from its first draw, a changed value goes back
    into the URL at once). The cap stops a URL that would not come clean from looping.
    """
    value = control(widget, *args, key=key, bind=URL if fits else None, **kwargs)
    if not fits:
        st.query_params.pop(key, None)  # unbound now: the URL may lose it
        reruns = st.session_state.get(URL_RERUNS, 0)
        if reruns < MAX_URL_RERUNS:
            st.session_state[URL_RERUNS] = reruns + 1
            st.rerun()
    return value


def _integers(*numbers) -> bool:
    return all(isinstance(n, int) for n in numbers if n is not None)


def url_number_input(label: str, min_value, max_value, value, *, key: str, step=None, **kwargs):
    """st.number_input bound to the URL under `key`, safe against any URL value (see module)."""
    integer = _integers(min_value, max_value, value, step)
    fits = _url_number_fits(key, min_value, max_value, integer, last=True)
    args = (label, min_value, max_value, value)
    return _bound(st.number_input, key, fits, *args, step=step, **kwargs)


def url_slider(label: str, min_value, max_value, value, step=None, *, key: str, **kwargs):
    """A one-value st.slider bound to the URL under `key`, safe against any URL value."""
    integer = _integers(min_value, max_value, value, step)
    fits = _url_number_fits(key, min_value, max_value, integer, last=False)
    args = (label, min_value, max_value, value, step)
    return _bound(st.slider, key, fits, *args, **kwargs)


def url_select_slider(label: str, options: Sequence, value, *, key: str, **kwargs):
    """A one-value st.select_slider of `options` bound to the URL under `key`: a URL value that
    is not exactly one of the options (as str writes them) is dropped and `value` shown."""
    values = _url_values(key)
    fits = not values or (len(values) == 1 and values[0] in {str(o) for o in options})
    return _bound(st.select_slider, key, fits, label, options, value, **kwargs)


_MD_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def md_text(text: object) -> str:
    """text for st.markdown / st.error / st.caption / an expander label, shown as typed.

    Every ASCII punctuation mark gets a backslash (Markdown's escape: no *bold*, _italics_,
    `code`, [links](…), <html>, $math$, # headings, | tables, ~~strikes~~), ':' also breaks
    Streamlit's :emoji: and :colour[…] directives, and line breaks become spaces.
    """
    flat = _CONTROL.sub(" ", str(text))
    return _MD_SPECIAL.sub(r"\\\1", flat)


FILENAME_STEM_MAX = 80  # characters of a download name before its hash and extension


def safe_filename(stem: str, ext: str) -> str:
    """A download name: only A-Z a-z 0-9 . _ -, short, never hidden; 'stem.ext'.

    Every run of other characters (or of '_') becomes one '_', leading and trailing '.', '_' and
    '-' go, the stem is cut to FILENAME_STEM_MAX characters, and when anything was changed an
    8-digit hash of the original stem follows, so different formulas keep different names.
    """
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", str(stem))
    clean = re.sub(r"__+", "_", clean).strip("._-")[:FILENAME_STEM_MAX]
    clean = clean.strip("._-") or "download"
    if clean != stem:
        digest = hashlib.sha256(str(stem).encode("utf-8", "surrogatepass")).hexdigest()[:8]
        clean = f"{clean}_{digest}"
    suffix = re.sub(r"[^A-Za-z0-9]+", "", str(ext))[:10] or "bin"
    return f"{clean}.{suffix}"


PNG_SCALE = 2  # the modebar's PNG at twice the size on screen: sharp on a slide


def png_config(name: str) -> dict:
    """st.plotly_chart's config: the modebar's camera saves `<name>.png` (drawn in the browser)."""
    stem = safe_filename(name, "png").removesuffix(".png")
    return {"toImageButtonOptions": {"format": "png", "filename": stem, "scale": PNG_SCALE}}


def sidebar_settings() -> tuple[str, int]:
    """The device choice and seed from the shared sidebar (drawn by app.py, read by every page)."""
    return st.session_state.get("device", "auto"), int(st.session_state.get("seed", 0))


def loss_param_sliders(spec, prefix: str, defaults: dict | None = None) -> dict[str, float]:
    """One URL-bound slider a parameter of a loss spec, keyed `prefix.param`; returns the values.

    `defaults` overrides a parameter's starting value (clamped into its range).
    """
    start = spec.clamp({**spec.defaults(), **(defaults or {})})
    return {
        p.name: url_slider(
            md_text(p.name),  # a typed formula's parameter names are the user's
            float(p.min),
            float(p.max),
            start[p.name],
            float(p.step),
            key=f"{prefix}.{p.name}",
            help=p.help,
        )
        for p in spec.params
    }


SEVERITY_ICONS = {
    "error": ":material/error:",
    "warning": ":material/warning:",
    "info": ":material/info:",
}


def show_findings(findings) -> None:
    """The gradient doctor's findings, errors first: what was seen, why it matters, how to fix it.

    Title and what was seen (numbers, names, a formula's message) show as written; why and fix
    are the doctor's own Markdown."""
    if not findings:
        st.success("No findings: the gradient looks healthy.", icon=":material/check_circle:")
    for f in findings:
        with st.expander(
            md_text(f"{f.severity.upper()}: {f.title}"),
            icon=SEVERITY_ICONS[f.severity],
            expanded=f.severity == "error",
        ):
            seen = md_text(f.seen)
            st.markdown(f"**Seen:** {seen}\n\n**Why it matters:** {f.why}\n\n**Fix:** {f.fix}")


CUSTOM = "custom"
DEFAULT_FORMULA = "mean(sigmoid(k*(t - abs(r))) * r**2)"  # the seed's soft threshold
FORMULA_DEFAULTS = {"k": 20.0, "t": 1.0}  # slider starts for the default formula's parameters


def pick_loss(keys: list[str], *, custom: bool, default: str | None = None) -> LossSpec | None:
    """A URL-bound loss choice from `keys` (+ a typed formula if `custom`); its spec, or None.

    A typed formula is resolved here, once; one that does not parse shows its error (with a
    caret under the column) and gives None.
    """
    options = [*keys, CUSTOM] if custom else list(keys)
    choice = control(
        st.selectbox,
        "Loss",
        options,
        options.index(default) if default in options else 0,
        key="loss",
        bind=URL,
        help="catalogue keys; `custom` lets you type one",
    )
    if choice != CUSTOM:
        return get_loss(choice)  # a catalogue key: a look-up, nothing parsed
    text = control(
        st.text_input,
        "Formula (names: pred, target, r = pred − target, your parameters)",
        DEFAULT_FORMULA,
        key="expr",
        bind=URL,
        max_chars=500,
        help="functions: abs sqrt exp log log1p sigmoid tanh relu softplus clamp "
        "minimum maximum where round sign mean sum; no other names run",
    )
    try:
        return get_loss(EXPRESSION_PREFIX + text)
    except ValueError as err:  # ExpressionError: a message a student can act on
        st.error(f"This formula can't be used: {md_text(err)}", icon=":material/edit_off:")
        col = getattr(err, "col", None)
        if col:
            st.code(f"{text}\n{' ' * (col - 1)}^", language=None)
        return None


def loss_query(loss: str, params: dict, dataset: str) -> dict[str, str]:
    """The URL query that opens Training or Landscape on this loss, its parameters and data set."""
    custom = loss.startswith(EXPRESSION_PREFIX)
    prefix = CUSTOM if custom else loss
    query = {"data": dataset, "loss": CUSTOM if custom else loss}
    if custom:
        query["expr"] = loss.removeprefix(EXPRESSION_PREFIX)
    return query | {f"{prefix}.{name}": f"{value:g}" for name, value in params.items()}
