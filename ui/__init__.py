"""Streamlit helpers shared by the pages (UI only: no trading logic here)."""
