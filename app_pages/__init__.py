"""The app's pages: one script a page (st.Page); widget groups in `widgets`."""
