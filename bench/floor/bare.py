"""The floor of a Streamlit page for ``bench/pages.py --floor``: a title and one line, nothing of this app."""

import streamlit as st

st.title("Bare")
st.write("A Streamlit page with no app code: what loading any Streamlit page costs on this machine.")
