"""The web app: a FastAPI server with Gradio pages, one module per page."""
