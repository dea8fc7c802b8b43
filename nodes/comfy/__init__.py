"""The ComfyUI adapter: node classes made from the operation table, plus the library nodes."""
from . import bridge
from .builder_nodes import BUILDER_DISPLAY, BUILDER_NODES
from .call_nodes import CALL_DISPLAY, CALL_NODES
from .job_nodes import JOB_DISPLAY, JOB_NODES
from .library_nodes import LoadResultNode, MediaFromIdNode, UploadNode

NODE_CLASS_MAPPINGS: dict[str, type] = {
    **JOB_NODES,
    "AliveAIUpload": UploadNode,
    "AliveAIMediaFromId": MediaFromIdNode,
    "AliveAILoadResult": LoadResultNode,
    **CALL_NODES,
    **BUILDER_NODES,
}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {
    **JOB_DISPLAY,
    "AliveAIUpload": "Upload (AliveAI)",
    "AliveAIMediaFromId": "Media From ID (AliveAI)",
    "AliveAILoadResult": "Load Result (AliveAI)",
    **CALL_DISPLAY,
    **BUILDER_DISPLAY,
}

if bridge.IN_COMFY:  # the routes need ComfyUI's server; outside it, importing the pack registers nothing
    from .doctor_routes import setup as _setup_doctor
    from .routes import setup as _setup_routes

    bridge.register_routes(_setup_routes)
    bridge.register_routes(_setup_doctor)
