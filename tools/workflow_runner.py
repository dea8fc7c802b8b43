"""Run the AliveAI part of a UI-format example workflow outside ComfyUI.

tests/test_workflows.py executes every file of `workflows/` with it against the simulator, and
tools/make_workflows.py uses it to draw each file's thumbnail from what the workflow really
produces. Pack nodes run through their own FUNCTION, awaited as ComfyUI awaits it, with the
widget values of the file mapped to names by the layout ComfyUI's frontend uses. The few core
nodes the examples use get stand-ins: LoadImage and LoadVideo give generated sample media (a
LoadImage whose MASK output is connected gives a "painted" mask, as after the mask editor;
otherwise the 64x64 zero mask ComfyUI gives for an image without alpha), ImageScale and
ImageBlur do a plain torch resize and box blur, SolidMask and MaskComposite do what core does, and
the output nodes only record what they get.

Not a ComfyUI emulator: no caching, no lazy inputs, no subgraphs, and muted or bypassed nodes
are refused, since no example uses them.
"""
from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WIDGET_TYPES = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"})
OUTPUT_NODES = frozenset({"SaveImage", "PreviewImage", "SaveVideo", "PreviewAny"})
FRONTEND_ONLY = frozenset({"Note", "MarkdownNote"})


def has_control(name: str, kind: Any, opts: dict) -> bool:
    """Whether the frontend adds a control_after_generate widget after this input."""
    if kind != "INT":
        return False
    cag = opts.get("control_after_generate")
    return bool(cag) or (name in ("seed", "noise_seed") and cag is not False)


def widget_layout(spec: dict) -> list[str | None]:
    """The input name of each widgets_values slot of a node with this INPUT_TYPES; None marks a
    control_after_generate slot."""
    out: list[str | None] = []
    for section in ("required", "optional"):
        for name, (kind, *rest) in spec.get(section, {}).items():
            opts = rest[0] if rest else {}
            if opts.get("forceInput") or not (isinstance(kind, list) or kind in WIDGET_TYPES):
                continue
            out.append(name)
            if has_control(name, kind, opts):
                out.append(None)
    return out


# -- sample media in place of the files a user would load ------------------------------------------
def sample_picture(kind: str = "photo", width: int = 320, height: int = 416):
    """A small deterministic picture as IMAGE [1,H,W,3]: a person against a sky ("photo") or a
    close-up face ("face"). Drawn, not random, so thumbnails show something recognisable."""
    import numpy as np
    import torch
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height))
    d = ImageDraw.Draw(img)
    top, bottom = ((92, 140, 196), (236, 206, 160)) if kind == "photo" else ((60, 64, 84), (120, 110, 130))
    for y in range(height):
        t = y / max(1, height - 1)
        d.line([(0, y), (width, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    cx = width // 2
    if kind == "face":
        r = int(min(width, height) * 0.34)
        cy = height // 2 + r // 8
        d.ellipse([cx - r - 6, cy - r - 16, cx + r + 6, cy + r // 3], fill=(52, 34, 28))      # hair
        d.ellipse([cx - r, cy - r, cx + r, cy + int(r * 1.15)], fill=(224, 182, 150))     # face
    else:
        r = int(min(width, height) * 0.16)
        cy = int(height * 0.38)
        d.rounded_rectangle([cx - int(r * 2.2), cy + int(r * 1.1), cx + int(r * 2.2), height + r], radius=r,
                            fill=(70, 96, 150))                                            # shoulders
        d.ellipse([cx - r - 4, cy - r - 10, cx + r + 4, cy + r // 2], fill=(88, 56, 40))  # hair
        d.ellipse([cx - r, cy - r, cx + r, cy + int(r * 1.2)], fill=(228, 190, 160))     # face
    e = max(2, r // 7)
    for side in (-1, 1):
        ex, ey = cx + side * int(r * 0.4), cy - r // 8
        d.ellipse([ex - e, ey - e, ex + e, ey + e], fill=(40, 40, 50))
    d.arc([cx - r // 3, cy + r // 5, cx + r // 3, cy + r // 2], 20, 160, fill=(150, 70, 70), width=max(1, e // 2))
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).unsqueeze(0)


def painted_mask(image):
    """MASK [1,H,W] as LoadImage gives it after painting in the mask editor: 1 where painted
    (here an ellipse over the chest, the area an inpaint example changes)."""
    import torch

    _, h, w, _ = image.shape
    y = torch.arange(h, dtype=torch.float32)[:, None]
    x = torch.arange(w, dtype=torch.float32)[None, :]
    inside = ((x - w / 2) / (w * 0.3)) ** 2 + ((y - h * 0.8) / (h * 0.16)) ** 2 <= 1
    return inside.float().unsqueeze(0)


def sample_video(path: Path, frames: int = 12, fps: int = 24) -> Path:
    """A short MP4 of the sample photo slowly panning, in place of LoadVideo's file."""
    import av
    import numpy as np

    from nodes.simulator.synth import video_codec

    base = (sample_picture("photo", 160, 208)[0].numpy() * 255).astype(np.uint8)
    w, h = 128, 160
    codec = video_codec()
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            dx, dy = (i * 2) % (base.shape[1] - w), i % (base.shape[0] - h)
            crop = np.ascontiguousarray(base[dy:dy + h, dx:dx + w])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(crop, format="rgb24")))
        container.mux(stream.encode())
    return path


# -- stand-ins for the core nodes ------------------------------------------------------------------
def image_scale(image, method: str, width: int, height: int, crop: str):
    """ImageScale's size rule (0 keeps the aspect ratio), with a plain interpolate."""
    import torch.nn.functional as F

    h, w = image.shape[1], image.shape[2]
    if width == 0 and height == 0:
        return image
    width = width or max(1, round(w * height / h))
    height = height or max(1, round(h * width / w))
    x = F.interpolate(image.movedim(-1, 1), size=(height, width), mode="bilinear", antialias=True,
                      align_corners=False)
    return x.movedim(1, -1).clamp(0, 1)


def box_blur(image, radius: int):
    import torch.nn.functional as F

    x = F.pad(image.movedim(-1, 1), (radius,) * 4, mode="reflect")
    return F.avg_pool2d(x, 2 * radius + 1, stride=1).movedim(1, -1)


def mask_composite(destination, source, x: int, y: int, operation: str):
    """MaskComposite for the operations the examples use (add, subtract, multiply), as core does it:
    `source` placed at (x, y) on a copy of `destination`, clipped, clamped to 0..1."""
    out = destination.reshape(-1, *destination.shape[-2:]).clone()
    src = source.reshape(-1, *source.shape[-2:])
    right, bottom = min(x + src.shape[-1], out.shape[-1]), min(y + src.shape[-2], out.shape[-2])
    part, dst = src[:, :bottom - y, :right - x], out[:, y:bottom, x:right]
    ops = {"add": dst + part, "subtract": dst - part, "multiply": dst * part}
    if operation not in ops:
        raise ValueError(f"no stand-in for MaskComposite operation {operation!r}")
    out[:, y:bottom, x:right] = ops[operation]
    return out.clamp(0, 1)


@dataclass
class Run:
    """What one execution produced, by node id."""

    outputs: dict[int, tuple] = field(default_factory=dict)
    ui: dict[int, dict] = field(default_factory=dict)
    kwargs: dict[int, dict] = field(default_factory=dict)           # what each pack node was called with
    sinks: list[tuple[int, str, Any]] = field(default_factory=list)  # (node id, output node type, value)
    loaded: list[tuple[int, Any]] = field(default_factory=list)      # (node id, sample IMAGE / VIDEO loaded)
    types: dict[int, str] = field(default_factory=dict)              # node id -> type, of the nodes run so far


def links_by_id(wf: dict) -> dict[int, tuple]:
    return {link[0]: tuple(link) for link in wf["links"]}


def api_prompt(wf: dict, mappings: dict[str, type]) -> dict[str, dict]:
    """The API-format prompt ComfyUI would receive (control slots dropped): pack nodes read it
    through their hidden PROMPT input to see which of their outputs are connected."""
    links = links_by_id(wf)
    prompt = {}
    for node in wf["nodes"]:
        if node["type"] in FRONTEND_ONLY:
            continue
        inputs: dict[str, Any] = {}
        cls = mappings.get(node["type"])
        if cls is not None:
            names = widget_layout(cls.INPUT_TYPES())
            inputs.update({n: v for n, v in zip(names, node.get("widgets_values") or [], strict=False) if n})
        for inp in node.get("inputs") or []:
            if inp.get("link") is not None:
                _, origin, slot, *_ = links[inp["link"]]
                inputs[inp["name"]] = [str(origin), slot]
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt


def order(wf: dict) -> list[dict]:
    """Nodes in dependency order; ties keep the file's `order`, then the id."""
    links = links_by_id(wf)
    nodes = {n["id"]: n for n in wf["nodes"]}
    deps = {i: {links[x["link"]][1] for x in n.get("inputs") or [] if x.get("link") is not None}
            for i, n in nodes.items()}
    done: list[dict] = []
    seen: set[int] = set()
    while len(done) < len(nodes):
        ready = sorted((n.get("order", 0), i) for i, n in nodes.items() if i not in seen and deps[i] <= seen)
        if not ready:
            raise ValueError("the workflow has a cycle")
        seen.add(ready[0][1])
        done.append(nodes[ready[0][1]])
    return done


Hook = Callable[[dict, dict, Run], None]


def run_workflow(wf: dict, workdir: Path, before: Hook | None = None,
                 load_image: Callable[[dict], Any] | None = None) -> Run:
    """Execute `wf` (UI format). `before(node, kwargs, run)` may change a pack node's inputs just
    before it runs; `load_image(node)` replaces the
    default sample picture of a LoadImage node (a close-up face when its title mentions a face)."""
    from nodes.comfy import NODE_CLASS_MAPPINGS as mappings
    from nodes.comfy.bridge import video_from_file

    links = links_by_id(wf)
    prompt = api_prompt(wf, mappings)
    run = Run()
    for node in order(wf):
        kind, nid = node["type"], node["id"]
        if kind in FRONTEND_ONLY:
            continue
        run.types[nid] = kind
        if node.get("mode", 0) != 0:
            raise ValueError(f"node {nid} ({kind}) is muted or bypassed; the runner only runs active nodes")
        linked = {x["name"]: run.outputs[links[x["link"]][1]][links[x["link"]][2]]
                  for x in node.get("inputs") or [] if x.get("link") is not None}
        values = node.get("widgets_values") or []
        if kind in mappings:
            run.outputs[nid] = _run_pack_node(mappings[kind], node, values, linked, prompt, run, before)
        elif kind == "LoadImage":
            image = load_image(node) if load_image else \
                sample_picture("face" if "face" in (node.get("title") or "").lower() else "photo")
            mask_linked = any(o.get("links") for o in node.get("outputs", [])[1:2])
            import torch

            mask = painted_mask(image) if mask_linked else torch.zeros(1, 64, 64)
            run.loaded.append((nid, image))
            run.outputs[nid] = (image, mask)
        elif kind == "LoadVideo":
            video = video_from_file(sample_video(workdir / f"sample-{nid}.mp4"))
            run.loaded.append((nid, video))
            run.outputs[nid] = (video,)
        elif kind == "ImageScale":
            run.outputs[nid] = (image_scale(linked["image"], *values[:4]),)
        elif kind == "ImageBlur":
            run.outputs[nid] = (box_blur(linked["image"], int(values[0])),)
        elif kind == "SolidMask":
            import torch

            run.outputs[nid] = (torch.full((1, int(values[2]), int(values[1])), float(values[0])),)
        elif kind == "MaskComposite":
            run.outputs[nid] = (mask_composite(linked["destination"], linked["source"], *values[:3]),)
        elif kind in OUTPUT_NODES:
            run.sinks.append((nid, kind, next(iter(linked.values()), None)))
            run.outputs[nid] = ()
        else:
            raise ValueError(f"no stand-in for core node {kind}")
    return run


def _run_pack_node(cls: type, node: dict, values: list, linked: dict, prompt: dict, run: Run,
                   before: Hook | None) -> tuple:
    spec = cls.INPUT_TYPES()
    kwargs = {n: v for n, v in zip(widget_layout(spec), values, strict=True) if n}
    kwargs.update(linked)   # a widget turned into a linked input takes the link's value
    hidden = spec.get("hidden", {})
    if "unique_id" in hidden:
        kwargs["unique_id"] = str(node["id"])
    if "prompt" in hidden:
        kwargs["prompt"] = prompt
    if before is not None:
        before(node, kwargs, run)
    run.kwargs[node["id"]] = kwargs
    fn = getattr(cls(), cls.FUNCTION)
    out = asyncio.run(fn(**kwargs)) if inspect.iscoroutinefunction(fn) else fn(**kwargs)
    if isinstance(out, dict):
        run.ui[node["id"]] = out.get("ui") or {}
        out = out["result"]
    return tuple(out)


# -- API format: what a headless worker POSTs to /prompt ------------------------------------------------
# Widget names of the core nodes the examples use, in widgets_values order (ComfyUI v0.3.64).
CORE_WIDGETS: dict[str, list[str]] = {
    "SaveImage": ["filename_prefix"], "PreviewImage": [], "PreviewAny": [],
    "SaveVideo": ["filename_prefix", "format", "codec"],
    "ImageScale": ["upscale_method", "width", "height", "crop"], "ImageBlur": ["blur_radius", "sigma"],
    "SolidMask": ["value", "width", "height"], "MaskComposite": ["x", "y", "operation"],
}


def to_api(wf: dict, mappings: dict[str, type], save_previews: bool = True) -> dict[str, dict]:
    """The API-format prompt of a UI workflow, as the frontend's "Export (API)" writes it: every
    widget value under its input name (control_after_generate slots dropped), links as
    [node id, slot], notes left out. `save_previews` turns PreviewImage into SaveImage, so every
    result lands in ComfyUI's output folder and in /history where a worker reads it."""
    links = links_by_id(wf)
    prompt: dict[str, dict] = {}
    for node in wf["nodes"]:
        kind = node["type"]
        if kind in FRONTEND_ONLY:
            continue
        names = widget_layout(mappings[kind].INPUT_TYPES()) if kind in mappings else CORE_WIDGETS[kind]
        values = node.get("widgets_values") or []
        inputs: dict[str, Any] = {n: v for n, v in zip(names, values, strict=True) if n}
        for inp in node.get("inputs") or []:
            if inp.get("link") is not None:
                _, origin, slot, *_ = links[inp["link"]]
                inputs[inp["name"]] = [str(origin), slot]
        if kind == "PreviewImage" and save_previews:
            kind, inputs = "SaveImage", {**inputs, "filename_prefix": "AliveAI/preview"}
        prompt[str(node["id"])] = {"class_type": kind, "inputs": inputs,
                                   "_meta": {"title": node.get("title") or kind}}
    return prompt


@dataclass
class Execution:
    """One prompt run the way ComfyUI's executor runs it, with what a worker reads afterwards."""

    outputs: dict[str, tuple] = field(default_factory=dict)   # node id -> the output tuple, after the cache
    history: dict[str, dict] = field(default_factory=dict)    # node id -> its ui dict, as /history holds it
    saved: list[tuple[str, str, Any]] = field(default_factory=list)  # (node id, Save node type, value)


def run_api_prompt(prompt: dict[str, dict], workdir: Path, through_cache: Callable[[Any], Any] = lambda v: v,
                   mappings: dict[str, type] | None = None) -> Execution:
    """Execute an API-format prompt: nodes in dependency order, pack nodes through their FUNCTION
    with the hidden inputs ComfyUI fills (unique_id, prompt), core stand-ins for the rest. Every
    output tuple passes `through_cache` before anything downstream reads it (a test passes a
    pickle round trip: ComfyUI's output cache and a worker's process boundary). A worker reads
    the results from the ui dicts in `history` (json-serialisable, as /history sends them)."""
    from nodes.comfy import NODE_CLASS_MAPPINGS

    mappings = mappings or NODE_CLASS_MAPPINGS
    deps = {i: {v[0] for v in n["inputs"].values() if _is_link(v)} for i, n in prompt.items()}
    done: list[str] = []
    while len(done) < len(prompt):
        ready = sorted((i for i in prompt if i not in done and deps[i] <= set(done)), key=lambda i: int(i))
        if not ready:
            raise ValueError("the prompt has a cycle or a link to a missing node")
        done.append(ready[0])
    ex = Execution()
    for nid in done:
        node = prompt[nid]
        kind = node["class_type"]
        kw = {k: (ex.outputs[v[0]][v[1]] if _is_link(v) else v) for k, v in node["inputs"].items()}
        if kind in mappings:
            cls = mappings[kind]
            hidden = cls.INPUT_TYPES().get("hidden", {})
            kw.update({k: v for k, v in (("unique_id", nid), ("prompt", prompt)) if k in hidden})
            fn = getattr(cls(), cls.FUNCTION)
            out = asyncio.run(fn(**kw)) if inspect.iscoroutinefunction(fn) else fn(**kw)
            if isinstance(out, dict):
                if out.get("ui"):
                    ex.history[nid] = out["ui"]
                out = out["result"]
            ex.outputs[nid] = through_cache(tuple(out))
        elif kind in ("SaveImage", "SaveVideo", "PreviewImage", "PreviewAny"):
            value = next(iter(v for k, v in kw.items() if k in ("images", "video", "source")))
            ex.saved.append((nid, kind, value))
            ex.history[nid] = {"images" if kind != "SaveVideo" else "video": [{"filename": f"{nid}.out",
                                                                              "type": "output"}]}
            ex.outputs[nid] = ()
        elif kind == "ImageScale":
            ex.outputs[nid] = (image_scale(kw["image"], kw["upscale_method"], kw["width"], kw["height"], kw["crop"]),)
        elif kind == "ImageBlur":
            ex.outputs[nid] = (box_blur(kw["image"], int(kw["blur_radius"])),)
        elif kind == "SolidMask":
            import torch

            ex.outputs[nid] = (torch.full((1, int(kw["height"]), int(kw["width"])), float(kw["value"])),)
        elif kind == "MaskComposite":
            ex.outputs[nid] = (mask_composite(kw["destination"], kw["source"], kw["x"], kw["y"], kw["operation"]),)
        else:
            raise ValueError(f"no stand-in for core node {kind}")
    return ex


def _is_link(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], int)
