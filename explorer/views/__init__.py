"""Page view-models: plain config in, frozen dataclasses out, display text here.

`landscape` the Landscape page (its results in `panels`), `thresholds` Loss Shapes' soft-vs-hard
pair, `lab` the Gradient Lab's graph and diagnosis, `fit` what a model predicts over its data
(Training's fit picture, `race_fit` for a run of a race).
"""
