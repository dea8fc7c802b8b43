"""ComfyUI-AliveAI: every AliveAI operation as a ComfyUI node.

ComfyUI imports this folder as a package named after its path, so everything below uses
relative imports (`nodes` is also the name of a ComfyUI core module). Importing is cheap and
safe outside ComfyUI: torch, PIL and av load only when a node runs.
"""
from .nodes.comfy import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

WEB_DIRECTORY = "./js"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
