import streamlit as st

st.title("News")
