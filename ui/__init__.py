"""Gradio front end: `create_app(qa)` builds the page, `serve(qa)` launches it."""

from qa.ui.app import create_app
from qa.ui.serve import serve

__all__ = ["create_app", "serve"]
