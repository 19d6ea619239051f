"""Exports for slides and code: the optimizer path as an animated GIF drawn without a browser
(`gif`), and a loss as ready-to-paste PyTorch code (`pytorch`)."""
