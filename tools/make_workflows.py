"""Write the example workflows of `workflows/` (UI format) and their thumbnails.

    python tools/make_workflows.py            # from the pack root: JSON + JPG
    python tools/make_workflows.py --no-thumbnails

Each example is also written in API format to workflows/api/ (what a headless worker POSTs).

Each example is a few lines of `Graph` calls below; widget values are filled from the node's
own INPUT_TYPES (defaults, then the values given here), so a new input on a node shows up in
the examples when they are regenerated, and tests/test_workflows.py fails until they are.
Every seed control is stored as "fixed": these are paid nodes, and ComfyUI's default
("randomize") would start a new job on every queue.

Thumbnails are not drawings of the graph: each workflow is run against the built-in simulator
(tools/workflow_runner.py) and its inputs and results are composed under the title, marked as a
simulator preview. Node positions come from a left-to-right column layout by dependency depth.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:   # run as a script from anywhere; the pack's modules are `nodes.*`
    sys.path.insert(0, str(ROOT))

from tools.workflow_runner import run_workflow, to_api, widget_layout  # noqa: E402 - needs the path above

# Core nodes used by the examples, after ComfyUI v0.3.64: (socket inputs, outputs, default widget values,
# a node size that shows their widgets and preview).
CORE: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]], list[Any], tuple[int, int]]] = {
    "LoadImage": ([], [("IMAGE", "IMAGE"), ("MASK", "MASK")], ["example.png", "image"], (320, 330)),
    "LoadVideo": ([], [("VIDEO", "VIDEO")], ["example.mp4", "image"], (320, 330)),
    "ImageScale": ([("image", "IMAGE")], [("IMAGE", "IMAGE")], ["lanczos", 0, 1024, "disabled"], (320, 140)),
    "ImageBlur": ([("image", "IMAGE")], [("IMAGE", "IMAGE")], [1, 1.0], (320, 90)),
    "SolidMask": ([], [("MASK", "MASK")], [1.0, 512, 512], (320, 110)),
    "MaskComposite": ([("destination", "MASK"), ("source", "MASK")], [("MASK", "MASK")], [0, 0, "add"], (320, 150)),
    "SaveImage": ([("images", "IMAGE")], [], ["AliveAI/image"], (340, 380)),
    "PreviewImage": ([("images", "IMAGE")], [], [], (300, 320)),
    "SaveVideo": ([("video", "VIDEO")], [], ["video/AliveAI", "auto", "auto"], (340, 380)),
    "PreviewAny": ([("source", "*")], [], [], (340, 220)),
}
NOTE_COLORS = {"color": "#432", "bgcolor": "#653"}
# Nodes 2.0 (Vue) draws taller nodes than the saved size: rows are spaced for that (see pack_size).
COL_GAP, ROW_GAP, LEFT, TOP = 80, 80, 40, 60


def mappings() -> dict[str, type]:
    from nodes.comfy import NODE_CLASS_MAPPINGS

    return NODE_CLASS_MAPPINGS


class Graph:
    """One example workflow, built node by node and laid out in dependency columns."""

    def __init__(self, stem: str, title: str, chain: str):
        self.stem, self.title, self.chain = stem, title, chain
        self.nodes: list[dict] = []
        self.links: list[list] = []
        self.groups: list[tuple[str, list[int], str]] = []
        self.cols: dict[int, int] = {}

    def _get(self, nid: int) -> dict:
        return next(n for n in self.nodes if n["id"] == nid)

    def add(self, kind: str, title: str | None = None, col: int | None = None, values: list | None = None,
            **widgets: Any) -> int:
        """A node; `widgets` by input name (pack nodes) or `values` as saved (core nodes). `col`
        pins its column, counted from the graph's first column; otherwise it follows its inputs."""
        nid = len(self.nodes) + 1
        node: dict[str, Any] = {"id": nid, "type": kind, "pos": [0, 0], "size": [0, 0], "flags": {}, "order": 0,
                                "mode": 0, "inputs": [], "outputs": [], "properties": {"Node name for S&R": kind}}
        if kind in CORE:
            ins, outs, default_values, size = CORE[kind]
            node["inputs"] = [{"name": n, "type": t, "link": None} for n, t in ins]
            node["outputs"] = [{"name": n, "type": t, "links": [], "slot_index": i} for i, (n, t) in enumerate(outs)]
            node["widgets_values"] = list(values if values is not None else default_values)
            node["size"] = list(size)
        else:
            cls = mappings()[kind]
            spec = cls.INPUT_TYPES()
            node["inputs"] = [{"name": n, "type": k, "link": None, **({"shape": 7} if sec == "optional" else {})}
                              for sec in ("required", "optional") for n, (k, *o) in spec.get(sec, {}).items()
                              if not (isinstance(k, list) or k in ("INT", "FLOAT", "STRING", "BOOLEAN"))
                              or (o and o[0].get("forceInput"))]
            node["outputs"] = [{"name": n, "type": t, "links": [], "slot_index": i}
                               for i, (n, t) in enumerate(zip(cls.RETURN_NAMES, cls.RETURN_TYPES, strict=True))]
            node["widgets_values"] = pack_values(spec, widgets)
            node["size"] = list(pack_size(spec, len(node["inputs"]), len(node["outputs"])))
            # Saved by this version: js/unset.js leaves its values alone (an older -1 meant "not set")
            node["properties"]["aliveai_unset"] = 2
        if title:
            node["title"] = title
        self.nodes.append(node)
        if col is not None:
            self.cols[nid] = col
        return nid

    def note(self, text: str, width: int = 360) -> int:
        """A MarkdownNote; notes get the leftmost column to themselves, the graph starts right of them."""
        nid = len(self.nodes) + 1
        lines = sum(1 + len(line) // 46 for line in text.splitlines())
        self.nodes.append({"id": nid, "type": "MarkdownNote", "pos": [0, 0], "size": [width, 40 + 20 * lines],
                           "flags": {}, "order": 0, "mode": 0, "inputs": [], "outputs": [], "properties": {},
                           "widgets_values": [text], **NOTE_COLORS})
        return nid

    def link(self, src: int, out: str, dst: int, inp: str) -> None:
        a, b = self._get(src), self._get(dst)
        slot = next(i for i, o in enumerate(a["outputs"]) if o["name"] == out)
        kind = a["outputs"][slot]["type"]
        target = next((x for x in b["inputs"] if x["name"] == inp), None)
        if target is None:   # a widget turned into an input keeps its widgets_values slot
            target = {"name": inp, "type": kind, "widget": {"name": inp}, "link": None}
            b["inputs"].append(target)
        lid = len(self.links) + 1
        target["link"] = lid
        a["outputs"][slot]["links"].append(lid)
        self.links.append([lid, src, slot, dst, b["inputs"].index(target), kind])

    def group(self, title: str, members: list[int], color: str) -> None:
        self.groups.append((title, members, color))

    def build(self) -> dict:
        deps = {n["id"]: {link[1] for link in self.links if link[3] == n["id"]} for n in self.nodes}
        depth: dict[int, int] = {}
        first = 1 if any(n["type"] == "MarkdownNote" for n in self.nodes) else 0

        def col(nid: int) -> int:
            if nid not in depth:
                if self._get(nid)["type"] == "MarkdownNote":
                    depth[nid] = 0
                else:
                    depth[nid] = first + self.cols.get(nid, max((col(d) - first + 1 for d in deps[nid]), default=0))
            return depth[nid]

        columns: dict[int, list[dict]] = {}
        for n in self.nodes:
            columns.setdefault(col(n["id"]), []).append(n)
        x = LEFT
        for c in sorted(columns):
            y = TOP
            for n in sorted(columns[c], key=lambda n: (n["type"] != "MarkdownNote", n["id"])):
                n["pos"] = [x, y]
                y += drawn_height(n) + ROW_GAP
            x += max(n["size"][0] for n in columns[c]) + COL_GAP
        ranked = sorted(self.nodes, key=lambda n: (col(n["id"]), n["id"]))
        for i, n in enumerate(ranked):
            n["order"] = i
        for n in self.nodes:
            n["outputs"] = [{**o, "links": o["links"] or None} for o in n["outputs"]]
        groups = []
        for title, members, color in self.groups:
            ms = [self._get(m) for m in members]
            x0, y0 = min(m["pos"][0] for m in ms) - 20, min(m["pos"][1] for m in ms) - 70
            x1 = max(m["pos"][0] + m["size"][0] for m in ms) + 20
            y1 = max(m["pos"][1] + m["size"][1] for m in ms) + 20
            groups.append({"title": title, "bounding": [x0, y0, x1 - x0, y1 - y0], "color": color,
                           "font_size": 24, "flags": {}})
        return {"last_node_id": len(self.nodes), "last_link_id": len(self.links), "nodes": self.nodes,
                "links": self.links, "groups": groups, "config": {}, "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}},
                "version": 0.4}


def drawn_height(node: dict) -> int:
    """The most height either canvas mode gives the node: the saved size plus the classic title bar,
    or Nodes 2.0's layout (a 40 px header, 32 px per socket row, 36 px per widget, 120 for multiline
    text), which ignores the saved size."""
    if node["type"] == "MarkdownNote":
        return node["size"][1] + 40
    rows = max(len(node["inputs"]), len(node["outputs"]))
    widgets = 36 * len(node.get("widgets_values") or [])
    if node["type"] not in CORE:
        spec = mappings()[node["type"]].INPUT_TYPES()
        opts = {n: (k, o[0] if o else {}) for sec in ("required", "optional")
                for n, (k, *o) in spec.get(sec, {}).items()}
        widgets = sum(120 if opts[n][0] == "STRING" and opts[n][1].get("multiline") else 36
                      for n in widget_layout(spec) if n) + 36 * widget_layout(spec).count(None)
    return max(node["size"][1] + 30, 40 + 32 * rows + widgets)


def pack_values(spec: dict, given: dict[str, Any]) -> list:
    """widgets_values of a pack node: the widget defaults, the values given, "fixed" controls."""
    names = [n for n in widget_layout(spec) if n]
    unknown = set(given) - set(names)
    if unknown:
        raise KeyError(f"not widgets of this node: {sorted(unknown)}")
    opts = {n: (k, o[0] if o else {}) for sec in ("required", "optional") for n, (k, *o) in spec.get(sec, {}).items()}
    out: list[Any] = []
    for name in widget_layout(spec):
        if name is None:
            out.append("fixed")
            continue
        kind, o = opts[name]
        default = o.get("default", kind[0] if isinstance(kind, list) else {"STRING": "", "BOOLEAN": False}.get(kind, 0))
        out.append(given.get(name, default))
    return out


def pack_size(spec: dict, sockets_in: int, sockets_out: int) -> tuple[int, int]:
    """A generous node size: the frontend draws widgets past a too-small saved size."""
    h = 10 + 24 * max(sockets_in, sockets_out)
    for name in widget_layout(spec):
        if name is None:
            h += 32
            continue
        kind, *o = next(spec[s][name] for s in ("required", "optional") if name in spec.get(s, {}))
        h += 110 if kind == "STRING" and o and o[0].get("multiline") else 32
    return 400, h


KEY_NOTE = ("Set your AliveAI API key once in **Settings › AliveAI › Account**; it never goes into a "
            "widget, so it never ends up in a saved workflow or image.")
SEED_NOTE = ("The seed control is on **fixed**: queueing again re-uses the result instead of paying for a new "
             "job. Change the seed (or set the control to *increment*) for a new result.")
OWN_PHOTO = ("The photo is made by **Create Image** so the example runs as it is. To use your own, add a "
             "**Load Image** and connect its IMAGE to {where} instead.")


def examples() -> list[Graph]:
    """Every example runs as shipped: no file to place in input/, no id to paste. Pictures come
    from Create Image / Create Face, a mask from core mask nodes, a profile id from Get Profiles
    For User, a prompt_id from the job that made it."""
    out = []

    g = Graph("Text to image", "Text to image", "Create Image → Save Image")
    g.note("## Text to image\n\nDescribe a person in **appearance**, give them a **name**, queue.\n\n"
           f"{SEED_NOTE}\n\n{KEY_NOTE}")
    a = g.add("AliveAICreateImage", name="Mira Solberg", aspectRatio="PORTRAIT", seed=20251125,
              appearance="a red-haired explorer in a green field at golden hour, freckles, wind in her hair")
    s = g.add("SaveImage", values=["AliveAI/text_to_image"])
    g.link(a, "image", s, "images")
    out.append(g)

    g = Graph("Image to video", "Image to video", "Create Image → Image To Video → Save Video")
    g.note("## Image to video\n\n**Create Image** makes the photo; its **media** output goes to **Image To "
           "Video** (no upload). Describe the motion in **text**. The result is saved as an MP4.\n\n"
           + OWN_PHOTO.format(where="Image To Video's **image**") + "\n\n" + SEED_NOTE)
    i = g.add("AliveAICreateImage", title="Photo to animate", name="Lena Hart", aspectRatio="PORTRAIT", seed=7,
              appearance="a woman with long brown hair on a beach at sunset, looking past the camera")
    v = g.add("AliveAIImageToVideo", seed=7, text="she turns her head towards the camera and smiles, "
                                                 "hair moving in a light breeze")
    s = g.add("SaveVideo", values=["video/AliveAI_image_to_video", "auto", "auto"])
    g.link(i, "media", v, "image_media")
    g.link(v, "video", s, "video")
    out.append(g)

    g = Graph("Edit then upscale", "Edit, then upscale", "Create Image → Edit Image → Upscale Image → Save Image")
    g.note("## Edit, then upscale\n\n**Edit Image** changes the photo as the prompt says; each step passes its "
           "**media** output to the next, so nothing is uploaded again.\n\n"
           + OWN_PHOTO.format(where="Edit Image's **image**") + "\n\n" + SEED_NOTE)
    i = g.add("AliveAICreateImage", title="Photo to edit", name="Ada Moreau", aspectRatio="PORTRAIT", seed=11,
              appearance="a woman with short grey hair in a sunny garden, linen dress")
    e = g.add("AliveAIEditImage", seed=11, prompt="give her a wide straw hat, keep the face unchanged")
    u = g.add("AliveAIUpscaleImage", seed=11, restoreFace=True)
    p = g.add("PreviewImage", title="Edited (before upscale)")
    s = g.add("SaveImage", values=["AliveAI/edit_upscale"])
    g.link(i, "media", e, "image_media")
    g.link(e, "media", u, "image_media")
    g.link(e, "image", p, "images")
    g.link(u, "image", s, "images")
    out.append(g)

    g = Graph("Inpaint a masked area", "Inpaint a masked area",
              "Create Image + Solid Mask / Mask Composite → Inpaint → Save Image")
    g.note("## Inpaint a masked area\n\nThe mask is drawn by core nodes: a black **SolidMask** the size of the "
           "photo, a white rectangle over the chest added by **MaskComposite**. Inpaint fits the mask to the "
           "photo and repaints the white area.\n\nTo paint the area by hand instead: Load Image › right-click › "
           "**Open in MaskEditor**, and connect its IMAGE and MASK to Inpaint.\n\n" + SEED_NOTE)
    i = g.add("AliveAICreateImage", title="Photo", name="Noor Haddad", aspectRatio="PORTRAIT", seed=3,
              appearance="a woman with dark curly hair standing in a bright studio, plain t-shirt")
    bg = g.add("SolidMask", title="Mask: keep everything", values=[0.0, 512, 768])
    fg = g.add("SolidMask", title="Mask: area to change", values=[1.0, 320, 240])
    mc = g.add("MaskComposite", values=[96, 480, "add"])
    n = g.add("AliveAIInpaint", seed=3, prompt="a white linen shirt with a small embroidered flower")
    s = g.add("SaveImage", values=["AliveAI/inpaint"])
    g.link(bg, "MASK", mc, "destination")
    g.link(fg, "MASK", mc, "source")
    g.link(i, "image", n, "image")
    g.link(mc, "MASK", n, "mask")
    g.link(n, "image", s, "images")
    out.append(g)

    g = Graph("Face swap onto a photo", "Face swap onto a photo",
              "Create Face → Face Swap → Create After Face Swap (on a Create Image photo) → Save Image")
    g.note("## Face swap onto a photo\n\n**Create Face** makes the face to use and **Create Image** the photo to "
           "put it in; both pass their **media** output on, so nothing is uploaded.\n\n**Face Swap** builds the "
           "swap settings; **Create After Face Swap** applies them to the photo. To use your own pictures, "
           "connect Load Image nodes to Face Swap's **face** and Create After Face Swap's **image**.\n\n"
           + SEED_NOTE)
    fc = g.add("AliveAICreateFace", title="Face to use", seed=5,
               prompt="a man in his forties with a short beard and kind eyes")
    ph = g.add("AliveAICreateImage", title="Photo", name="Sam Ortega", aspectRatio="PORTRAIT", seed=5,
               appearance="a man in a navy suit on a city rooftop at dusk")
    fs = g.add("AliveAIFaceSwap")
    ca = g.add("AliveAICreateAfterFaceSwap", seed=5)
    s = g.add("SaveImage", values=["AliveAI/face_swap"])
    g.link(fc, "media", fs, "face_media")
    g.link(fs, "face_swap", ca, "faceSwap")
    g.link(ph, "media", ca, "image_media")
    g.link(ca, "image", s, "images")
    out.append(g)

    g = Graph("Portrait of a generated face", "Portrait of a generated face",
              "Create Face → Face Swap → Create Portrait → Save Image")
    g.note("## Portrait of a generated face\n\n**Create Face** invents a face from the prompt; its **media** "
           "output feeds **Face Swap** (no upload), and **Create Portrait** makes a styled portrait with it.\n\n"
           "To use a real face instead, connect a Load Image to Face Swap's **face** input.\n\n" + SEED_NOTE)
    f = g.add("AliveAICreateFace", seed=42, prompt="a woman in her thirties with short dark hair, green eyes "
                                                    "and a warm smile")
    fs = g.add("AliveAIFaceSwap")
    pt = g.add("AliveAICreatePortrait", seed=42, gender="FEMALE", ethnicity="EUROPEAN", scene="PHOTOSTUDIO")
    pv = g.add("PreviewImage", title="Generated face")
    s = g.add("SaveImage", values=["AliveAI/portrait"])
    g.link(f, "media", fs, "face_media")
    g.link(f, "image", pv, "images")
    g.link(fs, "face_swap", pt, "faceSwap")
    g.link(pt, "image", s, "images")
    out.append(g)

    g = Graph("Character from a profile", "Character image from a profile",
              "Get Profiles For User (first_id) → Create Character Image → Save Image")
    g.note("## Character image from a profile\n\n**Get Profiles For User** lists character profiles (*public* is "
           "true, so everyone's are listed) and passes the first one's id on **first_id** to the **profileId** "
           "of Create Character Image.\n\nTo pick another profile: set *public* to false for your own, or delete "
           "the link and choose one with the button under **profileId**.\n\n" + SEED_NOTE)
    gp = g.add("AliveAIGetProfilesForUser", public="true")
    ci = g.add("AliveAICreateCharacterImage", seed=9,
               prompt="reading a book in a sunlit cafe, window seat, cozy sweater", aspectRatio="PORTRAIT")
    s = g.add("SaveImage", values=["AliveAI/character"])
    g.link(gp, "first_id", ci, "profileId")
    g.link(ci, "image", s, "images")
    out.append(g)

    g = Graph("Extend and upscale a video", "Extend, smooth and upscale a video",
              "Create Image → Image To Video → Extend → Increase Fps → Upscale Video → Save Video")
    g.note("## Extend, smooth and upscale a video\n\nA photo from **Create Image** becomes a short clip "
           "(**Image To Video**); each step passes its **media** output to the next, so nothing is uploaded "
           "and each step works on the previous result. Five paid jobs.\n\nTo start from your own clip, connect "
           "a **Load Video** to Edit Video Extend's **video** instead.\n\n" + SEED_NOTE)
    ph = g.add("AliveAICreateImage", title="First frame", name="Ines Duarte", aspectRatio="PORTRAIT", seed=1,
               appearance="a young woman walking along a tree-lined avenue in autumn, long coat")
    iv = g.add("AliveAIImageToVideo", seed=1, text="she walks slowly towards the camera, leaves falling")
    ex = g.add("AliveAIEditVideoExtend", seed=1, prompt="she keeps walking towards the camera, "
                                                        "the camera slowly pulls back")
    fp = g.add("AliveAIEditVideoIncreaseFps", seed=1)
    up = g.add("AliveAIUpscaleVideo", seed=1)
    s = g.add("SaveVideo", values=["video/AliveAI_extended", "auto", "auto"])
    g.link(ph, "media", iv, "image_media")
    g.link(iv, "media", ex, "video_media")
    g.link(ex, "media", fp, "video_media")
    g.link(fp, "media", up, "video_media")
    g.link(up, "video", s, "video")
    out.append(g)

    g = Graph("Prompt helper to image", "Prompt helper, then image",
              "Generate Prompt → Create Image (appearance) → Save Image")
    g.note("## Prompt helper, then image\n\n**Generate Prompt** turns a short idea into a detailed "
           "description (no job, no image). Its text is connected to Create Image's **appearance** input "
           "and shown in **Preview Any**.\n\n" + SEED_NOTE)
    gp = g.add("AliveAIGeneratePrompt", inputPrompt="an old lighthouse keeper on a stormy evening")
    ci = g.add("AliveAICreateImage", name="Tomas Veld", aspectRatio="PORTRAIT", seed=1234)
    pa = g.add("PreviewAny", title="Generated prompt", col=2)
    s = g.add("SaveImage", values=["AliveAI/prompt_helper"])
    g.link(gp, "prompt", ci, "appearance")
    g.link(gp, "prompt", pa, "source")
    g.link(ci, "image", s, "images")
    out.append(g)

    g = Graph("Load an earlier result", "Load an earlier result",
              "Create Image (prompt_id) → Load Result → Preview Image")
    g.note("## Load an earlier result\n\n**Load Result** takes the **prompt_id** of an earlier AliveAI job: no new "
           "job and no credits. It uses the files in `output/aliveai/<prompt_id>/` when they are there, "
           "otherwise it downloads them again.\n\nHere the id comes from the Create Image beside it (queue twice: "
           "the second run costs nothing). To load any other job, delete the link and paste its id into "
           "**prompt_id**: every AliveAI node has a prompt_id output and shows the id under the node.")
    ci = g.add("AliveAICreateImage", name="Olga Berg", aspectRatio="PORTRAIT", seed=99,
               appearance="an elderly woman knitting by a window, soft morning light")
    lr = g.add("AliveAILoadResult")
    pv = g.add("PreviewImage")
    g.link(ci, "prompt_id", lr, "prompt_id")
    g.link(lr, "image", pv, "images")
    out.append(g)

    g = Graph("Local steps around an edit", "Local steps around a remote edit",
              "Create Image → Upscale Image (core) → Edit Image → Image Blur → Save Image")
    g.note("## Local steps around a remote edit\n\nOrdinary ComfyUI nodes run before and after the paid "
           "step: **Upscale Image** (ImageScale) brings the photo to 1024 px high before upload, "
           "**Image Blur** softens the result.\n\n" + OWN_PHOTO.format(where="Upscale Image's **image**") +
           "\n\n" + SEED_NOTE)
    i = g.add("AliveAICreateImage", title="Photo", name="Jonas Weber", aspectRatio="PORTRAIT", seed=21,
              appearance="a young man with a red scarf in a park in winter")
    sc = g.add("ImageScale", values=["lanczos", 0, 1024, "disabled"])
    e = g.add("AliveAIEditImage", seed=21, prompt="turn the background into a snowy mountain village at dusk")
    b = g.add("ImageBlur", values=[1, 0.6])
    s = g.add("SaveImage", values=["AliveAI/edit_local_steps"])
    g.link(i, "image", sc, "image")
    g.link(sc, "IMAGE", e, "image")
    g.link(e, "image", b, "image")
    g.link(b, "IMAGE", s, "images")
    g.group("Local (free)", [sc], "#3f789e")
    g.group("AliveAI (paid)", [e], "#a1309b")
    g.group("Local (free)", [b, s], "#3f789e")
    out.append(g)

    g = Graph("Pose and clothes", "Image with a pose and clothes",
              "Pose + Clothes → Create Image → Save Image")
    g.note("## Image with a pose and clothes\n\nThe **Pose** and **Clothes** builders describe them in words "
           "here; they also take ids from Get Poses / Get Public Clothes.\n\n" + SEED_NOTE)
    po = g.add("AliveAIPose", posePrompt="sitting on a wooden chair, hands resting on her knees")
    cl = g.add("AliveAIClothes", clothesPrompt="a yellow raincoat and black rubber boots")
    ci = g.add("AliveAICreateImage", name="Ines Duarte", aspectRatio="PORTRAIT", seed=77,
               appearance="a young woman with curly black hair in a rainy city street")
    s = g.add("SaveImage", values=["AliveAI/pose_clothes"])
    g.link(po, "pose", ci, "pose")
    g.link(cl, "clothes", ci, "clothesRequest")
    g.link(ci, "image", s, "images")
    out.append(g)
    return out


# -- thumbnails -------------------------------------------------------------------------------------
def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)   # Pillow's bundled font: the same on every machine


def _wrap(draw, text: str, font, width: int) -> list[str]:
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split():
            trial = f"{line} {word}".strip()
            if draw.textlength(trial, font=font) <= width or not line:
                line = trial
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def _frames(video) -> tuple[Any, int]:
    import av
    import numpy as np
    from PIL import Image

    path = video.get_stream_source() if hasattr(video, "get_stream_source") else str(video)
    with av.open(path) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return Image.fromarray(np.ascontiguousarray(frames[len(frames) // 2])), len(frames)


SHOWN_TEXT = ("name", "appearance", "prompt", "inputPrompt", "text", "posePrompt", "clothesPrompt", "prompt_id")


def panels_of(graph: Graph, run) -> list[tuple[str, Any]]:
    """(label, PIL image, ("video", PIL image) or text) to show: what was loaded (a painted mask
    tinted red), or the text that went in when nothing was loaded, then what reached the output
    nodes. At most three: the first and the last two."""
    import numpy as np
    from PIL import Image

    def pil(t):
        return Image.fromarray((t[0].clamp(0, 1).numpy() * 255).astype(np.uint8))

    titles = {n["id"]: (n.get("title") or "your image").lower() for n in graph.nodes}
    out: list[tuple[str, Any]] = []
    for nid, value in run.loaded:
        if hasattr(value, "get_stream_source"):
            img, n = _frames(value)
            out.append((f"your video ({n} frames)", ("video", img)))
            continue
        mask = run.outputs[nid][1]
        if mask.shape[-2:] == value.shape[1:3] and mask.sum() > 0:
            red = value.new_tensor([1.0, 0.15, 0.15])
            value = value * (1 - 0.55 * mask[..., None]) + red * 0.55 * mask[..., None]
            out.append(("photo + painted mask", pil(value)))
        else:
            out.append((titles[nid], pil(value)))
    texts = [f"{k}: {v}" for nid in run.kwargs for k, v in run.kwargs[nid].items()
             if k in SHOWN_TEXT and isinstance(v, str) and v.strip()]
    if not out and texts and not any(k == "PreviewAny" for _, k, _ in run.sinks):
        out.append(("what goes in", "\n\n".join(texts)))
    for _, kind, value in run.sinks:
        if kind == "PreviewAny":
            out.append(("generated prompt", str(value)))
        elif kind == "SaveVideo":
            img, n = _frames(value)
            out.append((f"result video ({n} frames)", ("video", img)))
        else:
            name = "preview" if kind == "PreviewImage" else "result"
            out.append((f"{name} {value.shape[2]}x{value.shape[1]}", pil(value)))
    if len(out) > 3:
        out = out[:1] + out[-2:]
    return out


def thumbnail(graph: Graph, run, path: Path, size: int = 512) -> None:
    from PIL import Image, ImageDraw

    canvas = Image.new("RGB", (size, size), (26, 28, 34))
    d = ImageDraw.Draw(canvas)
    d.rectangle([0, 0, size, 6], fill=(161, 48, 155))
    y = 58   # frontend 1.58 draws a badge over the top-left corner: the title starts below it
    for line in _wrap(d, graph.title, _font(32), size - 40):
        d.text((20, y), line, font=_font(32), fill=(240, 240, 244))
        y += 38
    # The bundled font has no arrow glyph: "›" separates the steps on the picture.
    for line in _wrap(d, graph.chain.replace("→", "›"), _font(16), size - 40):
        d.text((20, y), line, font=_font(16), fill=(170, 176, 190))
        y += 21
    top, bottom = y + 14, size - 40
    panels = panels_of(graph, run)
    gap = 26
    pw = (size - 40 - gap * (len(panels) - 1)) // max(1, len(panels))
    ph = bottom - top - 24
    for k, (label, content) in enumerate(panels):
        x = 20 + k * (pw + gap)
        d.rounded_rectangle([x, top, x + pw, top + ph], radius=8, fill=(40, 43, 52))
        if isinstance(content, str):
            ty = top + 10
            for line in _wrap(d, content, _font(14), pw - 16)[: (ph - 20) // 18]:
                d.text((x + 8, ty), line, font=_font(14), fill=(214, 220, 230))
                ty += 18
        else:
            is_video = isinstance(content, tuple)
            img = content[1] if is_video else content
            img = img.copy()
            img.thumbnail((pw - 8, ph - 8))
            ix, iy = x + (pw - img.width) // 2, top + (ph - img.height) // 2
            canvas.paste(img, (ix, iy))
            if is_video:
                cx, cy, r = ix + img.width // 2, iy + img.height // 2, min(22, img.width // 5)
                d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(0, 0, 0))
                d.polygon([(cx - r // 3, cy - r // 2), (cx - r // 3, cy + r // 2), (cx + r // 2, cy)],
                          fill=(255, 255, 255))
        d.text((x + pw // 2, top + ph + 4), label, font=_font(14), fill=(190, 196, 208), anchor="ma")
        if k:
            ax, ay = x - gap // 2, top + ph // 2
            d.polygon([(ax - 6, ay - 9), (ax - 6, ay + 9), (ax + 7, ay)], fill=(161, 48, 155))
    d.text((size // 2, size - 22), "preview made with the built-in AliveAI simulator", font=_font(13),
           fill=(120, 126, 140), anchor="ma")
    canvas.save(path, "JPEG", quality=88, optimize=True)


def make_thumbnails(graphs: list[Graph], folder: Path) -> None:
    """Run each workflow against the simulator, as the tests do, and draw its thumbnail."""
    from nodes.comfy import bridge, session
    from nodes.simulator import DEFAULT_API_KEY, SimulatorThread

    with tempfile.TemporaryDirectory() as tmp, SimulatorThread(job_seconds=0.05, id_salt="") as sim:
        os.environ.update({"ALIVEAI_BASE_URL": sim.base_url, "ALIVEAI_API_KEY": DEFAULT_API_KEY,
                           "ALIVEAI_OUTPUT_DIR": str(Path(tmp) / "output"),
                           "ALIVEAI_USER_DIR": str(Path(tmp) / "user"),
                           "ALIVEAI_CACHE_DIR": str(Path(tmp) / "cache")})
        for k in ("ALIVEAI_EMAIL", "ALIVEAI_PASSWORD"):
            os.environ.pop(k, None)
        bridge.set_text_sink(lambda text, node: None)
        session.reset()
        try:
            for g in graphs:
                wf = json.loads((folder / f"{g.stem}.json").read_text())
                run = run_workflow(wf, Path(tmp))   # as shipped: nothing filled in by hand
                thumbnail(g, run, folder / f"{g.stem}.jpg")
                print(f"  {g.stem}.jpg")
        finally:
            bridge.set_text_sink(None)
            session.reset()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "workflows")
    ap.add_argument("--no-thumbnails", action="store_true")
    args = ap.parse_args(argv)
    args.out.mkdir(exist_ok=True)
    graphs = examples()
    (args.out / "api").mkdir(exist_ok=True)
    for g in graphs:
        wf = g.build()
        (args.out / f"{g.stem}.json").write_text(json.dumps(wf, indent=2, ensure_ascii=False) + "\n")
        # The same graph in API format, for headless workers (POST /prompt): previews become Save
        # Image. A subfolder: the Templates dialog lists only workflows/*.json.
        api = to_api(wf, mappings())
        (args.out / "api" / f"{g.stem}.json").write_text(json.dumps(api, indent=2, ensure_ascii=False) + "\n")
        print(f"  {g.stem}.json (+ api/)")
    if not args.no_thumbnails:
        make_thumbnails(graphs, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
