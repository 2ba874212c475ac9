import streamlit as st

st.title("Trading")
