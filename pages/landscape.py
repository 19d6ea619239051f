import streamlit as st

st.title("landscape")
