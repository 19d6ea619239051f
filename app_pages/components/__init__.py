"""Client-side components of the app's pages (each a package: Python wrapper, JS, CSS)."""
