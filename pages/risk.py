import streamlit as st

st.title("Risk")
