"""Landscape: a loss surface over a 2-D slice of parameter space, its −∇L field and a trajectory."""

from dataclasses import replace
from functools import partial

import streamlit as st

from app_pages.widgets.common import md_text, png_config, safe_filename, sidebar_settings
from app_pages.widgets.landscape import settings
from app_pages.widgets.memo import memo
from app_pages.widgets.phase import phase_section
from app_pages.widgets.player import landscape_section
from explorer import plots
from explorer.export import gif
from explorer.views import landscape as views


@memo(max_entries=32, show_spinner="Computing the surface…")
def compute(fields: tuple, run_key: str, _records=None) -> views.LandscapeView:
    """The view for plain config values; run_key stands for the (unhashed) last-run records."""
    return views.landscape_view(views.ViewConfig(**dict(fields)), _records)


st.title("Landscape")
st.caption("The loss around the path's last step, its descent direction −∇L, and the path itself.")
device, seed = sidebar_settings()
cfg, look = settings(device, seed)
log, cones = look["log"], look["cones"]
records, run_key = None, ""
if cfg.trajectory == "last":  # the Training page owns "last_run"; this page only reads it
    try:
        cfg, records = views.follow_run(cfg, st.session_state.get("last_run"))
        run_key = views.run_fingerprint(records)
    except ValueError as err:
        st.warning(
            f"The last Training run cannot be overlaid: {md_text(err)}. Showing a quick run."
        )
        cfg = replace(cfg, trajectory="quick")
try:
    view = compute(tuple(vars(cfg).items()), run_key, records)
except ValueError as err:
    st.error(f"This view cannot be drawn: {md_text(err)}")
    st.stop()
if view.fell_back:
    st.info(view.device_note)
if view.stop:
    st.warning(f"The run {view.stop}; the path is drawn up to its last finite step.")

landscape_section(tuple(vars(cfg).items()), run_key, view, log)  # the client-side player
panels, figs = view.panels, {}
for p in panels:
    s, i = p.surface, p.index
    grad = (s.grad_alpha, s.grad_beta)
    common = dict(trajectory=p.projection, log_scale=log, height=560)
    figs[f"surface_{i}"] = plots.surface_3d(
        s.alpha, s.beta, s.values, grad=grad if cones else None, axis_labels=p.short,
        title=f"{p.name}: loss surface", uirevision=f"surface_{i}", **common,
    )  # fmt: skip
    figs[f"contour_{i}"] = plots.contour_arrows(
        s.alpha, s.beta, s.values, *grad, axis_labels=s.labels,
        title=f"{p.name}: contours and −∇L", uirevision=f"contour_{i}_{cfg.axes}", **common,
    )  # fmt: skip
kinds = ("surface", "contour")  # two losses: surfaces above, contours below; one: side by side
one = [[(k, panels[0]) for k in kinds]]
rows = [[(k, p) for p in panels] for k in kinds] if panels[1:] else one
for row in rows:
    for col, (kind, p) in zip(st.columns(len(row)), row, strict=True):
        chart = f"{kind}_{p.index}"
        col.plotly_chart(figs[chart], key=chart, config=png_config(f"landscape_{chart}"))
        if kind == "contour" and p.flat_note:
            col.caption(p.flat_note)
if (path := panels[0].projection) is not None:
    with st.expander("Animated path over the contours"):
        s = panels[0].surface
        args = (s.alpha, s.beta, s.values, path)
        fig = plots.trajectory_animation(*args, log_scale=log, axis_labels=s.labels, max_frames=40)
        st.plotly_chart(fig, key="animation", config=png_config("landscape_animation"))
        title = f"{panels[0].name}: path over the contours"
        st.download_button(
            "Path as GIF", partial(gif.projection_gif, s, path, log_scale=log, title=title),
            safe_filename(f"path_{cfg.dataset}_{cfg.model}_{cfg.loss}", "gif"), "image/gif",
            key="gif", on_click="ignore", help=gif.gif_caption(path.step.size),
        )  # fmt: skip
        st.caption(f"GIF for slides: {gif.gif_caption(path.step.size)}")
cut = view.slice
fig = plots.slice_1d(
    cut.t, cut.values, title=cut.title, x_label=cut.label, endpoints=cut.marks, log_scale=log
)
st.plotly_chart(fig, key="slice", config=png_config("landscape_slice"))
phase_section(cfg, look["spec"], panels[0].surface.centre)  # momentum over (α, β)

st.subheader("How honest is the picture?")
st.caption(
    "Each step is projected onto the plane: 'dropped' is how far it lies off the plane; the gap "
    "between its true loss and the surface at the projected point is what the picture hides."
)
st.dataframe([p.honesty.row() for p in panels], hide_index=True)
name = f"landscape_{cfg.dataset}_{cfg.model}_{cfg.loss}_{cfg.axes}"
files = {"npz": views.surface_npz(panels), "json": views.surface_json(panels)}
files["html"] = plots.to_html(figs["surface_0"])
for col, (ext, blob) in zip(st.columns(3), files.items(), strict=True):
    what = "3-D figure" if ext == "html" else "Surface"
    col.download_button(
        f"{what} ({ext.upper()})", blob, safe_filename(name, ext), key=ext, on_click="ignore"
    )
