"""Hand-shaped nodes around the job nodes: Upload (local media -> handle, no job) and Load
Result (prompt_id -> the result again, no new job: from the local store when its files are
still there, else from Get Prompt + download)."""
from __future__ import annotations

import threading

from .. import media
from ..client import Completed
from ..client.results import medias_of
from ..errors import AliveAIError, ValidationError
from . import bridge, inputs, results, runtime, session
from .handles import MEDIA, MediaHandle, MediaRef
from .outputs import handle_entries, preview_entries, result_images


class UploadNode:
    CATEGORY = "AliveAI/Library"
    FUNCTION = "run"
    DESCRIPTION = ("Upload a local IMAGE (each batch item), MASK or VIDEO to AliveAI once and output a media handle. "
                   "The same pixels are never uploaded twice in a process. Uploads cost no credits.")
    RETURN_TYPES = (MEDIA, "STRING")
    RETURN_NAMES = ("media", "media_id")
    OUTPUT_TOOLTIPS = ("Media handle for the next AliveAI node.", "The media id(s), comma-separated.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {},
                "optional": {"image": ("IMAGE", {"tooltip": "Image(s) to upload; one media per batch item."}),
                             "mask": ("MASK", {"tooltip": "Mask to upload as an 8-bit grayscale PNG "
                                                          "(white = area to change; the convention is inferred)."}),
                             "video": ("VIDEO", {"tooltip": "Video to upload as MP4."})},
                "hidden": {"unique_id": "UNIQUE_ID"}}

    async def run(self, unique_id=None, image=None, mask=None, video=None):
        return await runtime.run_in_thread(self._upload, unique_id, image, mask, video)

    @staticmethod
    def _upload(unique_id, image, mask, video, stop: threading.Event):
        client = session.client()
        sources = []
        for kind, value in (("image", image), ("mask", mask)):
            if value is None:
                continue
            t = value.unsqueeze(0) if value.dim() == (3 if kind == "image" else 2) else value
            sources += [inputs.upload_source(client, kind, t[i:i + 1], "Upload (AliveAI)") for i in range(t.shape[0])]
        if video is not None:
            sources.append(inputs.video_source(client, video))
        if not sources:
            raise ValidationError("connect an image, a mask or a video", operation="Upload (AliveAI)", field="image")
        refs = []
        for s in sources:
            if s.media_id is None:
                s.media_id, mtype = s.upload()
            else:
                mtype = "IMAGE"
            refs.append(MediaRef(s.media_id, mtype, None, uploaded=True))
        line = f"uploaded {len(refs)} media"
        bridge.send_text(line, unique_id)
        # The last line also in the ui output (js/previews.js): frontend 1.58 deletes progress text at the end.
        return {"ui": {"aliveai_status": [line]},
                "result": (MediaHandle(tuple(refs)), ",".join(r.media_id for r in refs))}


class MediaFromIdNode:
    CATEGORY = "AliveAI/Library"
    FUNCTION = "run"
    DESCRIPTION = "Make a media handle from a media id you already have (from the AliveAI site or another workflow)."
    RETURN_TYPES = (MEDIA,)
    RETURN_NAMES = ("media",)
    OUTPUT_TOOLTIPS = ("Media handle for the next AliveAI node.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "media_id": ("STRING", {"default": "", "tooltip": "An AliveAI media id."}),
            "media_type": (["IMAGE", "VIDEO"], {"default": "IMAGE", "tooltip": "What the media is."}),
            "prompt_id": ("STRING", {"default": "", "tooltip": "The prompt that made it, if any "
                                                               "(sent as createdFromPromptId)."}),
        }}

    @classmethod
    def VALIDATE_INPUTS(cls, media_id):
        if media_id is not None and not str(media_id).strip():
            return "Media From ID (AliveAI): 'media_id' is required"
        return True

    def run(self, media_id, media_type, prompt_id):
        return (MediaHandle((MediaRef(media_id.strip(), media_type, prompt_id.strip() or None),)),)


class LoadResultNode:
    CATEGORY = "AliveAI/Library"
    FUNCTION = "run"
    DESCRIPTION = ("Load the result of an earlier AliveAI job by its prompt_id: no new job, no credits. Uses the "
                   "files saved under output/aliveai/ when they are there, else Get Prompt and a fresh download.")
    RETURN_TYPES = ("IMAGE", "VIDEO", MEDIA, "STRING", "STRING")
    RETURN_NAMES = ("image", "video", "media", "media_id", "prompt_id")
    OUTPUT_TOOLTIPS = ("The result images (for a video job: the first frame of the video).",
                       "The result video (only for video jobs).", "Media handle of all results.",
                       "Media id(s), comma-separated.", "The prompt_id.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"prompt_id": ("STRING", {"default": "", "tooltip": "The prompt_id of an AliveAI job."})},
                "hidden": {"unique_id": "UNIQUE_ID", "prompt": "PROMPT"}}

    @classmethod
    def VALIDATE_INPUTS(cls, prompt_id):
        if prompt_id is not None and not str(prompt_id).strip():
            return "Load Result (AliveAI): 'prompt_id' is required"
        return True

    async def run(self, prompt_id, unique_id=None, prompt=None):
        return await runtime.run_in_thread(load_result, prompt_id.strip(), unique_id, prompt)


def linked_outputs(prompt: dict | None, node_id: str | None) -> set[int]:
    """Which output slots of `node_id` some node of the API-format prompt reads."""
    used: set[int] = set()
    if not prompt or node_id is None:
        return used
    for node in prompt.values():
        for v in (node.get("inputs") or {}).values() if isinstance(node, dict) else ():
            if isinstance(v, list) and len(v) == 2 and str(v[0]) == str(node_id):
                used.add(int(v[1]))
    return used


LOAD_LABEL = "Load Result (AliveAI)"


def load_result(prompt_id: str, unique_id, prompt, stop: threading.Event):
    """Every failure names this node and the prompt_id (e.g. a result over the pixel limit: its
    file stays where the error says)."""
    try:
        return _load_result(prompt_id, unique_id, prompt)
    except AliveAIError as e:
        e.for_node(LOAD_LABEL).with_context(prompt_id=prompt_id)
        raise
    except OSError as e:   # the output folder: full, read-only, removed
        raise AliveAIError(f"could not read or write the result files: {e}", operation=LOAD_LABEL,
                           prompt_id=prompt_id) from e


def _load_result(prompt_id: str, unique_id, prompt):
    label = LOAD_LABEL
    store = session.store()
    local = store.local_files(prompt_id)
    if local is not None:
        refs = [MediaRef(m["id"], m["type"], prompt_id) for m, _ in local]
        files = [p for _, p in local]
        line = f"loaded {len(files)} saved file(s) · prompt {prompt_id}"
    else:
        client = session.client()
        container = client.get_prompt(prompt_id)
        op = client.operation_of(container)
        all_m = medias_of(container)
        if not all_m:
            raise ValidationError("this prompt has no result media (yet): is it still running?", operation=label,
                                  field="prompt_id")
        done = Completed(tuple(all_m), tuple(all_m), container)
        res = results.save_result(op.key if op else "unknown", label, client, store, prompt_id, done)
        refs, files = res.refs, res.files
        line = f"downloaded {len(files)} file(s) · prompt {prompt_id}"
    bridge.send_text(line, unique_id)
    images = [f for r, f in zip(refs, files, strict=True) if r.media_type == "IMAGE"]
    videos = [f for r, f in zip(refs, files, strict=True) if r.media_type == "VIDEO"]
    used = linked_outputs(prompt, unique_id)
    if 1 in used and not videos:
        raise ValidationError(f"prompt {prompt_id} has no video; disconnect the 'video' output", operation=label,
                              field="video")
    if images:
        image = result_images(store, images)
    elif videos:
        image = media.video_first_frame(videos[0])
    else:
        raise ValidationError(f"prompt {prompt_id} has no image or video media", operation=label, field="prompt_id")
    video = bridge.video_from_file(videos[0]) if videos else None
    ui = {"images": preview_entries(store, videos or images), "aliveai": handle_entries(refs),
          "aliveai_status": [line]}   # outlives the run, unlike the progress text (frontend 1.58)
    if videos:
        ui["animated"] = [True]
    return {"ui": ui, "result": (image, video, MediaHandle(tuple(refs)), ",".join(r.media_id for r in refs),
                                 prompt_id)}
