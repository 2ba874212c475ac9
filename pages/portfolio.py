import streamlit as st

st.title("Portfolio")
