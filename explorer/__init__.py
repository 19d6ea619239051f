"""Loss Landscape Explorer: the computation behind the app (no Streamlit here)."""
