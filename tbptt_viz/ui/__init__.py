"""The Streamlit page's views, one module per tab, and what they share (the only package importing streamlit).

app.py is the page's outline; each tab is one call into a module here. The views draw results computed
elsewhere: they ask the shared compute service for jobs (`services`, keyed by `serving.jobs`), turn them into
figures (`present.figures`), strips (`present.render`) and sentences (`present.sentences`), and hold no
tensor maths of their own.
"""
