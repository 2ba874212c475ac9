"""The floor of a Streamlit page with a chart for ``bench/pages.py --floor``: a title and one three-point Plotly line."""

import plotly.graph_objects as go
import streamlit as st

st.title("Bare chart")
st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2])), width="stretch")
