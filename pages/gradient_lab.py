import streamlit as st

st.title("gradient_lab")
