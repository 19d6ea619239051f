"""Outside text (a typed formula, a run name, an error message) shows as typed: in Markdown,
in Plotly titles, legends and axis labels, and it never makes an unsafe download name."""

import hashlib
import html
import re
import string

import numpy as np
import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from app_pages.widgets.common import FILENAME_STEM_MAX, md_text, safe_filename
from explorer import plots
from explorer.losses import EXPRESSION_PREFIX, get_loss
from explorer.plots._common import plot_text
from explorer.views.lab import diagnosis
from tests.apptest import figures, open_page, problems

LONG = "mean(" + "+".join(f"k_{i}*r**2" for i in range(600)) + ")"  # over 6000 characters
HOSTILE = [
    "r**2*k",
    "mean(r**2*k_a) + (r<br>1)",
    "<b>bold</b> <script>alert(1)</script> <a href='x'>link</a>",
    "[link](javascript:alert(1)) ![img](x.png) `code` ~~strike~~ | a | b |",
    "# heading\n- item\n> quote",
    ":red[red] :smile: :material/home: $x^2$ $$y$$",
    "back\\slash \\* &amp; &lt; %{x} {braces} 50%",
    "θ₀ − ∇L · é 🙂 日本",
    LONG,
]
PUNCTUATION = set(string.punctuation)


def md_literal(escaped: str) -> str:
    """What Markdown shows for md_text's output, checking that every mark in it is escaped."""
    out, i = [], 0
    while i < len(escaped):
        c = escaped[i]
        if c == "\\":
            assert escaped[i + 1] in PUNCTUATION, escaped[i : i + 2]
            out.append(escaped[i + 1])
            i += 2
        else:
            assert c not in PUNCTUATION, (c, escaped[max(0, i - 10) : i + 10])
            out.append(c)
            i += 1
    return "".join(out)


def flat(text: str) -> str:
    """text with each run of line breaks and control characters as one space."""
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", text)


# ---- md_text -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: t[:20])
def test_md_text_escapes_every_mark_and_shows_the_text_as_typed(text):
    escaped = md_text(text)
    assert md_literal(escaped) == flat(text)
    assert "\n" not in escaped and "\r" not in escaped


def test_md_text_escapes_each_markdown_special_with_a_backslash():
    for c in "*_`[]<>$#|~\\!():{}+-.=^&%'\"":
        assert md_text(c) == "\\" + c
    assert md_text("r**2*k") == r"r\*\*2\*k"
    assert md_text("a<br>b") == r"a\<br\>b"


def test_md_text_leaves_letters_digits_spaces_and_unicode_alone():
    text = "Custom loss 12 θ₀ − ∇L · é 🙂 日本"
    assert md_text(text) == text


def test_md_text_puts_line_breaks_and_control_characters_on_one_line():
    assert md_text("a\n\nb\r\nc\td\x00e\u2028f") == "a b c d e f"
    assert md_text(42) == "42"


def test_md_text_of_a_long_formula_keeps_every_character():
    escaped = md_text(LONG)
    assert len(escaped) == len(LONG) + sum(c in PUNCTUATION for c in LONG)
    assert md_literal(escaped) == LONG


# ---- plot_text -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: t[:20])
def test_plot_text_leaves_no_markup_and_decodes_to_the_text(text):
    escaped = plot_text(text)
    assert not set("<>$%") & set(escaped)
    assert re.sub(r"&(amp|lt|gt|#36|#37);", "", escaped).count("&") == 0
    assert html.unescape(escaped) == flat(text)


def test_plot_text_exact_entities():
    assert plot_text("r<br>1") == "r&lt;br&gt;1"
    assert plot_text("a & b") == "a &amp; b"
    assert plot_text("&lt;") == "&amp;lt;"  # typed entities stay typed
    assert plot_text("$x$ %{y}") == "&#36;x&#36; &#37;{y}"
    assert plot_text("a\nb") == "a b"
    assert plot_text("θ₀ − ∇L 🙂") == "θ₀ − ∇L 🙂"


# ---- the figure builders apply plot_text to what they receive -------------------------------

NAME, ESCAPED = "a<br>b & $c$", "a&lt;br&gt;b &amp; &#36;c&#36;"
TITLE, TITLE_ESCAPED = "t<b>x</b>", "t&lt;b&gt;x&lt;/b&gt;"
LABEL, LABEL_ESCAPED = "<i>w</i> %", "&lt;i&gt;w&lt;/i&gt; &#37;"


def legend(fig) -> list[str]:
    return [t.name for t in fig.data]


def test_loss_curves_escape_title_names_labels_and_marks():
    x = np.linspace(-1, 1, 5)
    curve = {"name": NAME, "value": x**2, "grad_autograd": 2 * x, "grad_fd": 2 * x}
    fig = plots.loss_curves(
        x, [curve], title=TITLE, x_label=LABEL, y_labels=(LABEL, LABEL), marks=[(0.0, NAME)]
    )
    assert fig.layout.title.text == TITLE_ESCAPED
    assert legend(fig) == [ESCAPED, f"{ESCAPED} · autograd", f"{ESCAPED} · finite differences"]
    assert fig.layout.xaxis2.title.text == LABEL_ESCAPED
    assert fig.layout.yaxis.title.text == LABEL_ESCAPED
    assert {a.text for a in fig.layout.annotations} == {ESCAPED}


def test_slice_and_training_figures_escape_names_and_titles():
    t = np.linspace(0, 1, 4)
    fig = plots.slice_1d(t, {NAME: t}, title=TITLE, x_label=LABEL, endpoints=[(0.0, NAME)])
    assert fig.layout.title.text == TITLE_ESCAPED
    assert legend(fig) == [ESCAPED, ESCAPED]
    assert fig.data[1].text == (ESCAPED,)
    assert fig.layout.xaxis.title.text == LABEL_ESCAPED
    history = pd.DataFrame({"step": [0, 1], "loss": [1.0, 0.5], "grad_norm": [1.0, 0.5]})
    fig = plots.training_curves({NAME: history}, title=TITLE)
    assert legend(fig) == [ESCAPED, ESCAPED] and fig.layout.title.text == TITLE_ESCAPED
    fig = plots.param_path(np.zeros((3, 1)), [NAME], title=TITLE)
    assert legend(fig) == [ESCAPED] and fig.layout.title.text == TITLE_ESCAPED
    fig = plots.fit_plot(np.zeros(3), np.zeros(3), task="regression", title=TITLE)
    assert fig.layout.title.text == TITLE_ESCAPED


def test_surface_figures_escape_axis_labels_once():
    a, b = np.linspace(-1, 1, 5), np.linspace(-1, 1, 4)
    v = a[:, None] ** 2 + b[None, :] ** 2
    labels = (LABEL, NAME)
    fig = plots.surface_3d(a, b, v, axis_labels=labels, z_label=LABEL, title=TITLE)
    assert fig.layout.title.text == TITLE_ESCAPED
    assert fig.layout.scene.xaxis.title.text == LABEL_ESCAPED
    assert fig.layout.scene.yaxis.title.text == ESCAPED
    assert fig.data[0].colorbar.title.text == LABEL_ESCAPED
    assert fig.data[0].hovertemplate.startswith(f"{LABEL_ESCAPED} %{{x:.3g}}<br>{ESCAPED} %{{y")
    for build in (
        lambda: plots.contour_arrows(a, b, v, 2 * v, v, axis_labels=labels, z_label=LABEL),
        lambda: plots.trajectory_animation(
            a, b, v, {"alpha": [0.0], "beta": [0.0], "loss": [0.0]}, axis_labels=labels
        ),
    ):
        fig = build()
        assert fig.layout.xaxis.title.text == LABEL_ESCAPED
        assert fig.layout.yaxis.title.text == ESCAPED
        assert fig.data[0].hovertemplate.startswith(f"{LABEL_ESCAPED} %{{x:.3g}}<br>{ESCAPED}")


def test_lesson_figure_escapes_series_names():
    data = {"kind": "curve", "x": [0, 1], "series": {NAME: [0, 1]}, "y_label": LABEL}
    fig = plots.lesson_figure(data, title=TITLE)
    assert legend(fig) == [ESCAPED] and fig.layout.title.text == TITLE_ESCAPED
    assert fig.layout.yaxis.title.text == LABEL_ESCAPED


# ---- safe_filename ---------------------------------------------------------------------------

SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.[A-Za-z0-9]+")


def digest(stem: str) -> str:
    return hashlib.sha256(stem.encode()).hexdigest()[:8]


def test_safe_filename_keeps_a_safe_name_as_it_is():
    assert (
        safe_filename("landscape_moons_mlp_hinge_pca", "npz") == "landscape_moons_mlp_hinge_pca.npz"
    )


def test_safe_filename_collapses_unsafe_characters_and_adds_a_hash():
    stem = "landscape_line_mlp_expr:mean(r**2)/k"
    assert safe_filename(stem, "json") == f"landscape_line_mlp_expr_mean_r_2_k_{digest(stem)}.json"
    assert safe_filename("a/b", "txt") != safe_filename("a*b", "txt")  # same cleaned stem
    assert safe_filename("θ_loss", "csv") == f"loss_{digest('θ_loss')}.csv"
    assert (
        safe_filename("../../etc/passwd", "npz") == f"etc_passwd_{digest('../../etc/passwd')}.npz"
    )
    assert safe_filename(".hidden", "npz") == f"hidden_{digest('.hidden')}.npz"
    assert safe_filename("***", "n/p:z") == f"download_{digest('***')}.npz"
    assert safe_filename("x", "") == "x.bin"


@pytest.mark.parametrize("stem", HOSTILE, ids=lambda t: t[:20])
def test_safe_filename_is_short_and_safe_for_any_text(stem):
    name = safe_filename(f"landscape_line_line_expr:{stem}_params", "html")
    assert SAFE.fullmatch(name), name
    assert len(name.encode()) <= FILENAME_STEM_MAX + 1 + 8 + len(".html")


# ---- the pages --------------------------------------------------------------------------------

FORMULA = "mean(r**2*k_a + (r<br>1))"


def test_gradient_lab_figure_title_and_legend_show_the_formula_literally():
    at = open_page("gradient_lab", {"loss": "custom", "expr": FORMULA})
    assert problems(at) == [] and not at.error
    fig = figures(at)["lab_curve"]
    title = fig["layout"]["title"]["text"]
    assert (
        title == "Custom: mean(r**2*k_a + (r&lt;br&gt;1)): value and gradient against the residual"
    )
    assert html.unescape(title) == f"Custom: {FORMULA}: value and gradient against the residual"
    assert fig["data"][0]["name"] == plot_text(f"Custom: {FORMULA}")
    assert [s.label for s in at.slider] == [r"k\_a", "br"]  # the formula's parameters


def test_a_formula_error_shows_its_message_literally():
    text = "f`x` * r_"
    with pytest.raises(ValueError) as err:
        get_loss(EXPRESSION_PREFIX + text)
    at = open_page("gradient_lab", {"loss": "custom", "expr": text})
    assert problems(at) == []
    assert at.error[0].value == f"This formula can't be used: {md_text(err.value)}"
    assert md_literal(at.error[0].value.removeprefix("This formula can't be used: ")) == str(
        err.value
    )


def test_findings_titles_show_literally():
    at = open_page("gradient_lab", {"loss": "zero_one"})
    expected = [
        md_text(f"{f.severity.upper()}: {f.title}") for f in diagnosis(get_loss("zero_one"), {})
    ]
    assert [e.label for e in at.expander] == expected


def test_training_caption_warning_and_run_choice_show_the_formula_literally():
    formula = "-mean(r**2*k_a) + mean(r<br>1)"  # unbounded below: the run diverges
    query = {"loss": "custom", "expr": formula, "race_opt": ["adam"], "steps": "400"}
    at = open_page("training", query)
    assert problems(at) == []
    caption = md_text(f"Custom: {formula}") + " · _custom expression_ · formula below"
    assert caption in [c.value for c in at.caption]
    next(b for b in at.button if b.label == "Run to the end").click().run()
    assert problems(at) == []
    runs = at.session_state["train.race"].runs
    names = [f"sgd · expr:{formula}", f"adam · expr:{formula}"]
    assert list(runs) == names
    assert at.radio(key="fit_run").options == [md_text(n) for n in names]
    warnings = [w.value for w in at.warning]
    stopped = [f"**{md_text(n)}** stopped early: {runs[n].stop}" for n in names if runs[n].stop]
    assert stopped and warnings[: len(stopped)] == stopped
    assert runs[names[0]].stop.startswith("diverged")
    curves = figures(at)["curves"]
    assert [t["name"] for t in curves["data"] if t.get("showlegend", True)] == [
        plot_text(n) for n in names
    ]


@pytest.fixture
def saved_files(monkeypatch):
    """{file name: data} of every download the page offers."""
    saved = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, data, mimetype, kind, filename=None):
        saved[filename] = data
        return original(self, data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return saved


SMALL = {"steps": "11", "train_steps": "20"}


def test_landscape_download_names_are_safe_for_a_formula(saved_files):
    formula = (  # / * ( ) and spaces in a name over FILENAME_STEM_MAX characters long
        "mean(r**2/k_a) + mean(abs(r)*k_b) + mean(sigmoid(k_c*(t_d - abs(r))) * r**2)/(1 + k_e)"
        " + mean(log1p(r**2)*k_f)"
    )
    at = open_page("landscape", {**SMALL, "loss": "custom", "expr": formula})
    assert problems(at) == [] and not at.error
    assert at.text_input(key="expr").value == formula
    model, axes = at.selectbox(key="model").value, at.radio(key="axes").value
    stem = f"landscape_line_{model}_expr:{formula}_{axes}"
    names = {n for n in saved_files if n}
    assert names == {safe_filename(stem, ext) for ext in ("npz", "json", "html")}
    for name in names:
        assert SAFE.fullmatch(name) and len(name) <= FILENAME_STEM_MAX + 1 + 8 + len(".html")
        assert name.removesuffix(name[name.rindex(".") :]).endswith(digest(stem))


def test_landscape_download_names_of_a_catalogue_loss_are_unchanged(saved_files):
    at = open_page("landscape", {**SMALL, "loss": "huber"})
    assert problems(at) == []
    model, axes = at.selectbox(key="model").value, at.radio(key="axes").value
    stem = f"landscape_line_{model}_huber_{axes}"
    assert {n for n in saved_files if n} == {f"{stem}.{ext}" for ext in ("npz", "json", "html")}
