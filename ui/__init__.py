"""Gradio front end: `create_app(qa)` builds the page, `serve(qa)` launches it."""

from ui.app import create_app
from ui.serve import serve

__all__ = ["create_app", "serve"]
