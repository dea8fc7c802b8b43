"""The local AliveAI simulator, exercised as a client would: over HTTP and websockets on
127.0.0.1, with `requests` and `websocket-client`. Each test starts its own simulator (fast
jobs), so faults and queues never leak between tests; every wait is bounded."""
from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import websocket
from PIL import Image

from support import assert_injected, wait_for

from nodes.api import BY_KEY, OPERATIONS
from nodes.simulator import DEFAULT_API_KEY, Faults, Simulator, SimulatorThread
from nodes.simulator.synth import make_mp4, make_png

ROOT = Path(__file__).resolve().parents[1]
T = 5  # seconds: the bound on every single wait
EVENT_KEYS = {"promptId", "progress", "isComplete", "promptContainer", "isError", "isSystem", "message",
              "errorType", "queuePosition", "created"}
PROMPT = {"name": "Ada Berg", "appearance": "tall, short dark hair", "detailLevel": "MEDIUM"}


@pytest.fixture
def start():
    """start(**config) -> a running SimulatorThread, stopped at the end of the test."""
    running: list[SimulatorThread] = []

    def _start(**config) -> SimulatorThread:
        config.setdefault("job_seconds", 0.2)
        sim = SimulatorThread(**config).start()
        running.append(sim)
        return sim

    yield _start
    for sim in running:
        sim.stop()


@pytest.fixture
def sim(start) -> SimulatorThread:
    return start()


# helpers -----------------------------------------------------------------------------------------
def call(sim, key: str, body=None, params=None, headers=None, **path):
    op = BY_KEY[key]
    url = sim.base_url + op.path.format(**path)
    return requests.request(op.method, url, json=body, params=params,
                            headers=sim.headers if headers is None else headers, timeout=T)


def upload(sim, blob: bytes, name: str = "in.png") -> str:
    r = requests.post(sim.base_url + "/upload", headers=sim.headers, timeout=T,
                      files={"image": (name, blob)}, data={"name": name})
    assert r.status_code == 200, r.text
    return r.json()["mediaId"]


def login(sim) -> str:
    r = call(sim, "login", {"email": "sim@example.com", "password": "sim-password"}, headers={})
    assert r.status_code == 200, r.text
    return r.json()["accessToken"]


def png(w: int = 64, h: int = 48) -> bytes:
    return make_png(w, h, "test", "in")


def socket(sim, prompt_id: str) -> contextlib.closing:
    return contextlib.closing(websocket.create_connection(f"{sim.ws_url}/ws/prompts/{prompt_id}", timeout=T,
                                                          header=[f"Authorization: Key {sim.api_key}"]))


def events_until_final(ws: websocket.WebSocket) -> list[dict]:
    out: list[dict] = []
    deadline = time.monotonic() + T
    while time.monotonic() < deadline:
        out.append(json.loads(ws.recv()))
        if out[-1]["isComplete"] or out[-1]["isError"]:
            return out
    raise AssertionError(f"no final event: {out}")


def wait_status(sim, prompt_id: str, *statuses: str) -> None:
    deadline = time.monotonic() + T
    while sim.state.jobs[prompt_id].status not in statuses:
        assert time.monotonic() < deadline, f"job stayed {sim.state.jobs[prompt_id].status}"
        time.sleep(0.02)


def create_done(sim, key: str = "create_prompt", body=None) -> dict:
    r = call(sim, key, body or PROMPT)
    assert r.status_code == 200, r.text
    pid = r.json()["promptId"]
    wait_status(sim, pid, "DONE", "FAILED")
    return call(sim, "get_prompt", promptId=pid).json()


# routes and auth -----------------------------------------------------------------------------------
def test_every_callable_operation_has_a_route():
    from nodes.simulator.handlers import handler_for
    from nodes.simulator.server import EXTRA_PREFIXES, build_app
    app = build_app(Simulator())
    routes = {(r.method, r.resource.canonical) for r in app.router.routes()
              if not r.resource.canonical.startswith(EXTRA_PREFIXES)}
    assert routes == {(op.method, op.path) for op in OPERATIONS if op.callable}
    sockets = {r.resource.canonical for r in app.router.routes() if r.resource.canonical.startswith("/ws/")}
    assert sockets == {op.path for op in OPERATIONS if not op.callable}
    assert [op.key for op in OPERATIONS if op.callable and handler_for(op) is None] == []


def test_pending_is_not_read_as_a_prompt_id(sim):
    assert call(sim, "get_pending").json() == {"queue": []}


def test_auth_is_required(sim):
    for headers in ({}, {"Authorization": "Key wrong"}, {"Authorization": f"Bearer {DEFAULT_API_KEY}"},
                    {"Authorization": DEFAULT_API_KEY}):
        r = call(sim, "me", headers=headers)
        assert r.status_code == 401 and r.json()["detail"], headers
    assert call(sim, "me").json()["apiKey"] == DEFAULT_API_KEY
    pid = call(sim, "create_prompt", PROMPT).json()["promptId"]
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(f"{sim.ws_url}/ws/prompts/{pid}", timeout=T)
    assert refused.value.status_code == 401


def test_login_bearer_and_expired_tokens(sim):
    assert call(sim, "login", {"email": "sim@example.com", "password": "nope"}, headers={}).status_code == 401
    token = login(sim)
    assert token.startswith("eyJ")
    bearer = {"Authorization": f"Bearer {token}"}
    assert call(sim, "me", headers=bearer).status_code == 200
    sim.state.expire_tokens()
    assert call(sim, "me", headers=bearer).status_code == 401
    token = login(sim)
    assert call(sim, "me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_validation_names_the_field(sim):
    cases = [
        ("create_prompt", {"name": "A", "detailLevel": "MEDIUM"}, None, "appearance"),
        ("create_prompt", {**PROMPT, "cfg": 11}, None, "cfg"),
        ("create_prompt", {**PROMPT, "colour": "red"}, None, "colour"),
        ("create_prompt", {**PROMPT, "pose": {"id": "standing001", "bogus": 1}}, None, "pose"),
        ("create_prompt", {**PROMPT, "faceSwap": {"mediaIds": ["nope"]}}, None, "faceSwap.mediaIds[0]"),
        ("get_prompts", None, {"page": "x"}, "page"),
        ("get_prompts", None, {"page": 0, "promptType": "NOT_A_TYPE"}, "promptType"),
        ("get_profiles", None, {"page": 0, "public": "maybe"}, "public"),
    ]
    for key, body, params, field in cases:
        r = call(sim, key, body, params)
        assert r.status_code == 400, (key, r.text)
        assert field in r.json()["detail"], (key, r.json())
    assert sim.state.counters.creates == {}


def test_media_references_must_exist_and_fit(sim):
    image = upload(sim, png())
    body = {"videoUpscaleModel": "DEFAULT", "mediaId": image}
    r = call(sim, "upscale_video", body)
    assert r.status_code == 400 and "mediaId" in r.json()["detail"] and "VIDEO" in r.json()["detail"]
    video = upload(sim, make_mp4(64, 64, 3, 24, "t", "v"), "in.mp4")
    assert call(sim, "upscale_video", {**body, "mediaId": video}).status_code == 200
    r = call(sim, "create_edit_breasts", {"mediaId": "unknown"})
    assert r.status_code == 400 and "mediaId" in r.json()["detail"]


# jobs and events ----------------------------------------------------------------------------------
def test_create_then_websocket_events_to_completion(start):
    sim = start(workers=1, job_seconds=0.5)   # the first job keeps the second queued while we connect
    first = call(sim, "create_prompt", PROMPT).json()
    r = call(sim, "create_prompt", {**PROMPT, "seed": "42", "aspectRatio": "LANDSCAPE"})
    created = r.json()
    assert created["seed"] == "42" and created["promptContainer"] == {"promptId": created["promptId"], "medias": []}
    assert first["seed"].isdigit()
    with socket(sim, created["promptId"]) as ws:
        events = events_until_final(ws)
    assert all(set(e) == EVENT_KEYS for e in events)
    assert all(e["promptId"] == created["promptId"] and e["isSystem"] is False for e in events)
    progress = [e["progress"] for e in events if e["queuePosition"] == 0]
    assert progress == sorted(progress) and progress[-1] == 100
    final = events[-1]
    assert final["isComplete"] and not final["isError"] and final["errorType"] is None
    medias = final["promptContainer"]["medias"]
    assert [m["mediaType"] for m in medias] == ["IMAGE"]
    blob = requests.get(medias[0]["mediaUrl"], timeout=T).content
    assert Image.open(io.BytesIO(blob)).size == (768, 512)
    container = call(sim, "get_prompt", promptId=created["promptId"]).json()
    assert container["originalPrompt"]["seed"] == "42" and container["createFaceRequest"] is None
    assert container["isFavorite"] is False and [m["id"] for m in container["medias"]] == [medias[0]["id"]]


def test_image_to_video_lists_the_source_image_then_the_video(sim):
    image = upload(sim, png(300, 200))
    container = create_done(sim, "create_image_to_video", {"videoModel": "DEFAULT", "mediaId": image, "text": "walks"})
    medias = container["medias"]
    assert [m["mediaType"] for m in medias] == ["IMAGE", "VIDEO"] and medias[0]["id"] == image
    video = requests.get(medias[1]["mediaUrl"], timeout=T)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert container["imageToVideoRequest"]["mediaId"] == image


def test_edit_keeps_size_upscale_doubles_and_training_data_makes_four(sim):
    image = upload(sim, png(80, 64))
    edit = create_done(sim, "edit_image", {"editModel": "CREATIVE", "mediaId": image, "createdFromPromptId": "x",
                                           "ignoreFace": False, "restoreFace": False})
    assert Image.open(io.BytesIO(requests.get(edit["medias"][0]["mediaUrl"], timeout=T).content)).size == (80, 64)
    produced = edit["medias"][0]["id"]       # results are usable inputs
    up = create_done(sim, "upscale_image", {"mediaId": produced, "createdFromPromptId": edit["promptId"],
                                            "restoreFace": True})
    assert Image.open(io.BytesIO(requests.get(up["medias"][0]["mediaUrl"], timeout=T).content)).size == (160, 128)
    data = create_done(sim, "create_character_training_data", {"mediaId": image, "createdFromPromptId": "x",
                                                               "prompt": "a woman"})
    assert [m["mediaType"] for m in data["medias"]] == ["IMAGE"] * 4
    assert sim.state.users["user-1"].credits == 1000 - 3


def test_signed_urls_refuse_changes_and_expire(sim):
    container = create_done(sim)
    url = container["medias"][0]["mediaUrl"]
    r = requests.get(url, timeout=T, stream=True)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(r.content) > 0
    base, query = url.split("?")
    params = query.split("&")
    for altered in (url[:-1] + ("0" if url[-1] != "0" else "1"), base + "?" + "&".join(params[:-2] + params[-1:]),
                    base + "?" + "&".join(reversed(params)), url + "&extra=1", base):
        assert requests.get(altered, timeout=T).status_code == 403, altered
    sim.state.advance(3601)
    expired = requests.get(url, timeout=T)
    assert expired.status_code == 403 and b"expired" in expired.content
    fresh = call(sim, "get_prompt", promptId=container["promptId"]).json()["medias"][0]["mediaUrl"]
    assert fresh != url and requests.get(fresh, timeout=T).status_code == 200
    assert sim.state.counters.downloads == 2


def test_queue_positions_and_delete_from_queue(start):
    sim = start(workers=1, job_seconds=1.0)
    ids = [call(sim, "create_prompt", PROMPT).json()["promptId"] for _ in range(3)]
    wait_status(sim, ids[0], "RUNNING")
    queue = call(sim, "get_pending").json()["queue"]
    assert [(q["promptId"], q["queuePosition"]) for q in queue] == [(ids[0], 0), (ids[1], 1), (ids[2], 2)]
    assert all(q["video"] is False for q in queue)
    with socket(sim, ids[2]) as ws:
        assert call(sim, "delete_from_queue", params={"promptId": ids[1]}).status_code == 200
        moved = json.loads(ws.recv())
        assert moved["queuePosition"] == 1 and not moved["isError"]
        assert call(sim, "delete_from_queue", params={"promptId": ids[2]}).status_code == 200
        gone = json.loads(ws.recv())
        assert gone["isError"] and gone["message"] == "Removed from queue" and gone["errorType"] == "UNKNOWN"
    r = call(sim, "delete_from_queue", params={"promptId": ids[0]})
    assert r.status_code == 409 and r.json()["detail"] == "Prompt is already running"
    assert call(sim, "delete_from_queue", params={"promptId": "nope"}).status_code == 404
    assert call(sim, "get_prompt", promptId=ids[1]).status_code == 404
    assert [q["promptId"] for q in call(sim, "get_pending").json()["queue"]] == [ids[0]]


def test_max_pending(start):
    sim = start(workers=1, job_seconds=3, max_pending=2)
    assert all(call(sim, "create_prompt", PROMPT).status_code == 200 for _ in range(2))
    r = call(sim, "create_prompt", PROMPT)
    assert r.status_code == 429 and r.json() == {"detail": "Max pending creations reached"}
    assert sim.state.counters.creates["create_prompt"] == 2 and len(sim.state.jobs) == 2


def test_user_websocket_reports_queue_changes(sim):
    token = login(sim)
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(f"{sim.ws_url}/ws/users/r9orK?token=bad", timeout=T)
    with contextlib.closing(websocket.create_connection(f"{sim.ws_url}/ws/users/r9orK?token={token}", timeout=T)) as ws:
        pid = call(sim, "create_prompt", PROMPT).json()["promptId"]
        first = json.loads(ws.recv())
        assert first["eventType"] == "QUEUE_CHANGE" and first["promptId"] == pid
        assert [q["promptId"] for q in first["queue"]] == [pid]
        wait_status(sim, pid, "DONE")
    assert any(("token", "***") in e.query for e in sim.state.log)
    assert token not in json.dumps([e.as_dict() for e in sim.state.log])


def test_replay_on_connect(start):
    sim = start(replay_on_connect=True)
    pid = call(sim, "create_prompt", PROMPT).json()["promptId"]
    wait_status(sim, pid, "DONE")
    with socket(sim, pid) as ws:
        event = json.loads(ws.recv())
    assert event["isComplete"] and event["promptContainer"]["medias"]


# library, upload, catalogs ----------------------------------------------------------------------------
def test_get_prompts_filters_pages_and_delete(sim):
    ids = [create_done(sim, body={**PROMPT, "name": f"Name{i}"})["promptId"] for i in range(3)]
    video = create_done(sim, "create_video_prompt", {"mediaId": upload(sim, png()), "videoExpression": "KISS"})
    page = call(sim, "get_prompts", params={"page": 0, "pageSize": 2}).json()
    assert [p["promptId"] for p in page["prompts"]] == [video["promptId"], ids[2]]
    assert page["hasNextPage"] is True and page["totalPageCount"] == 2
    only = call(sim, "get_prompts", params={"page": 0, "promptType": ["VIDEO_EXPRESSION", "EDIT_IMAGE"]}).json()
    assert [p["promptId"] for p in only["prompts"]] == [video["promptId"]]
    found = call(sim, "get_prompts", params={"page": 0, "query": "name1"}).json()
    assert [p["promptId"] for p in found["prompts"]] == [ids[1]]
    url = found["prompts"][0]["medias"][0]["mediaUrl"]
    assert call(sim, "delete_prompt", promptId=ids[1]).status_code == 200
    assert call(sim, "get_prompt", promptId=ids[1]).json() == {"detail": "Prompt not found"}
    assert requests.get(url, timeout=T).status_code == 404
    assert sim.state.users["user-1"].credits == 1000 - 3 - 5


def test_upload_sniffs_types_and_limits_size(start):
    sim = start(max_upload_bytes=20_000)
    r = requests.post(sim.base_url + "/upload", headers=sim.headers, files={"image": ("a.txt", b"hello")}, timeout=T)
    assert r.status_code == 415 and r.json()["detail"]
    r = requests.post(sim.base_url + "/upload", headers=sim.headers, files={"image": ("a.png", b"\0" * 50_000)},
                      timeout=T)
    assert r.status_code == 413
    r = requests.post(sim.base_url + "/upload", headers=sim.headers, data={"name": "x"}, files={"other": b"1"},
                      timeout=T)
    assert r.status_code == 400 and "image" in r.json()["detail"]
    jpeg = io.BytesIO()
    Image.new("RGB", (10, 10)).save(jpeg, "JPEG")
    r = requests.post(sim.base_url + "/upload", headers=sim.headers, files={"image": ("a.jpg", jpeg.getvalue())},
                      timeout=T)
    assert r.json()["mediaType"] == "IMAGE"
    assert sim.state.log[-1].parts == ["image"] and sim.state.counters.uploads == 1


def test_catalogs_and_thumbnails(sim):
    poses = call(sim, "get_poses").json()
    assert len(poses) == 8 and all(set(v) == {"type", "poses"} for v in poses.values())
    thumb = requests.get(poses["posesStanding"]["poses"][0]["image"], timeout=T)
    assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG")
    for key in ("get_templates", "get_edit_templates", "get_edit_templates_realism", "get_video_templates",
                "get_ltx_video_templates"):
        items = call(sim, key).json()
        assert items and all(set(i) == {"id", "name", "imageUrl"} for i in items)
    profiles = call(sim, "get_profiles", params={"page": 0, "public": "true", "sort": "TOP"}).json()
    assert len(profiles["profiles"]) == 10 and profiles["hasNextPage"] is True
    own = call(sim, "get_profiles", params={"page": 0}).json()
    assert len(own["profiles"]) == 3 and own["hasNextPage"] is False
    clothes = call(sim, "get_custom_clothes").json()
    cid = clothes[0]["clothesId"]
    assert set(call(sim, "get_custom_clothes_by_id", clothesId=cid).json()) == {"clothesId", "clothesPrompt",
                                                                                 "clothesImageUrl"}
    assert call(sim, "delete_custom_clothes", clothesId=cid).status_code == 200
    assert call(sim, "get_custom_clothes_by_id", clothesId=cid).status_code == 404
    pose = call(sim, "get_custom_poses").json()[0]
    assert set(call(sim, "get_custom_pose", poseId=pose["id"]).json()) == {"id", "image", "additionalPrompt"}
    assert call(sim, "delete_custom_pose", poseId=pose["id"]).status_code == 200
    assert call(sim, "delete_custom_pose", poseId=pose["id"]).status_code == 404
    assert set(call(sim, "get_public_clothes").json()[0]) == {"clothesId", "clothesPrompt", "clothesImageUrl"}


def test_llm_helpers(sim):
    r = call(sim, "generate_video_prompt", {"model": "DEFAULT", "userInput": "she turns and smiles"})
    assert set(r.json()) == {"promptText", "negPrompt"} and "she turns and smiles" in r.json()["promptText"]
    r = call(sim, "generate_prompt", {"model": "DEFAULT", "inputPrompt": "red hat"})
    assert "red hat" in r.json()["promptText"]
    assert call(sim, "generate_vision_prompt", {"mediaId": "nope"}).status_code == 400
    assert call(sim, "generate_vision_prompt", {"mediaId": upload(sim, png())}).json()["promptText"]
    assert call(sim, "get_clothes_description", clothesId="clothes-red-gown").status_code == 200
    assert call(sim, "get_clothes_description", clothesId="nope").status_code == 404
    profile = call(sim, "get_profiles", params={"page": 0}).json()["profiles"][0]["id"]
    r = call(sim, "generate_character_prompt", {"profileId": profile, "theme": "beach", "outfit": "linen"})
    assert "beach" in r.json()["promptText"]


def test_request_log_redacts_credentials(sim):
    call(sim, "login", {"email": "sim@example.com", "password": "sim-password"}, headers={})
    call(sim, "me")
    login, me = sim.state.log[-2:]
    assert login.op == "login" and login.body == {"email": "sim@example.com", "password": "***"}
    assert me.headers["Authorization"] == "Key ***" and me.status == 200
    assert "sim-key" not in json.dumps([e.as_dict() for e in sim.state.log])


# faults -----------------------------------------------------------------------------------------------
def test_fault_ws_refuse(sim):
    pid = call(sim, "create_prompt", PROMPT).json()["promptId"]
    sim.state.faults.ws_refuse = True
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        socket(sim, pid)
    assert e.value.status_code == 503
    assert_injected(sim, "ws_refuse")


def test_fault_ws_drop(start):
    sim = start(workers=1, faults=["ws_drop"])
    call(sim, "create_prompt", PROMPT)
    pid = call(sim, "create_prompt", PROMPT).json()["promptId"]
    with socket(sim, pid) as ws:
        first = json.loads(ws.recv())
        assert first["queuePosition"] == 0 and not first["isComplete"]
        opcode, data = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE and int.from_bytes(data[:2], "big") == 1011
    assert_injected(sim, "ws_drop")


def test_fault_job_error(start):
    sim = start(replay_on_connect=True)   # the job may end before the socket opens
    sim.state.faults.job_error = True
    pid = call(sim, "create_prompt", PROMPT).json()["promptId"]
    with socket(sim, pid) as ws:
        final = events_until_final(ws)[-1]
    assert final["isError"] and final["message"] == "Simulated failure: GPU out of memory"
    assert final["errorType"] == "UNKNOWN" and not final["isComplete"]
    assert call(sim, "get_prompt", promptId=pid).json()["medias"] == []
    assert sim.state.users["user-1"].credits == 1000
    assert_injected(sim, "job_error")


def test_fault_job_hang(sim):
    sim.state.faults.job_hang = True
    pid = call(sim, "create_prompt", PROMPT).json()["promptId"]
    wait_for(lambda: sim.state.faults.count("job_hang") >= 3, timeout=T)   # reached the last step and kept holding
    assert sim.state.jobs[pid].status == "RUNNING"
    assert call(sim, "get_pending").json()["queue"][0]["progress"] == 75
    assert_injected(sim, "job_hang")
    sim.state.faults.job_hang = False
    wait_status(sim, pid, "DONE")


def test_fault_http_500_spares_creates(sim):
    sim.state.faults.http_500 = 2
    assert call(sim, "create_prompt", PROMPT).status_code == 200
    assert [call(sim, "get_pending").status_code for _ in range(3)] == [500, 500, 200]
    assert sim.state.faults.count("http_500") == 2
    assert_injected(sim, "http_500")


def test_fault_http_429(sim):
    sim.state.faults.set("http_429", 1)
    r = call(sim, "create_prompt", PROMPT)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert not sim.state.jobs and call(sim, "get_pending").status_code == 200
    assert_injected(sim, "http_429")


def test_fault_url_expired(sim):
    sim.state.faults.url_expired = True
    container = create_done(sim)
    assert requests.get(container["medias"][0]["mediaUrl"], timeout=T).status_code == 403
    assert_injected(sim, "url_expired")
    sim.state.faults.url_expired = False
    url = call(sim, "get_prompt", promptId=container["promptId"]).json()["medias"][0]["mediaUrl"]
    assert requests.get(url, timeout=T).status_code == 200


def test_fault_slow_seconds(sim):
    sim.state.faults.slow_seconds = 0.4
    began = time.monotonic()
    assert call(sim, "get_pending").status_code == 200
    assert time.monotonic() - began >= 0.4
    assert_injected(sim, "slow_seconds")


def test_faults_admin_route_and_parsing(sim):
    r = requests.post(sim.base_url + "/_sim/faults", json={"http_500": 1, "job_error": "true"}, timeout=T)
    assert r.json()["faults"]["http_500"] == 1 and sim.state.faults.job_error is True
    assert call(sim, "get_pending").status_code == 500 and sim.state.faults.on("job_error")   # set means played
    assert_injected(sim, "http_500", "job_error")
    assert requests.post(sim.base_url + "/_sim/faults", json={"nope": 1}, timeout=T).status_code == 400
    requests.delete(sim.base_url + "/_sim/faults", timeout=T)
    assert sim.state.faults.as_dict() == Faults().as_dict()
    f = Faults()
    f.apply("http_429=3")
    f.apply("ws_drop")
    assert f.http_429 == 3 and f.on("ws_drop") and [f.take("http_429") for _ in range(4)] == [True, True, True, False]
    assert_injected(f, "http_429", "ws_drop")
    with pytest.raises(ValueError):
        f.apply("nonsense")


# running it ---------------------------------------------------------------------------------------
def test_stop_leaves_no_threads():
    before = set(threading.enumerate())
    with SimulatorThread(job_seconds=0.1) as sim:
        create_done(sim)
    assert set(threading.enumerate()) <= before


def test_package_import_is_light():
    code = "import sys, nodes.simulator; print('aiohttp' in sys.modules, 'av' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_command_line_serves_until_stopped():
    proc = subprocess.Popen([sys.executable, "-m", "nodes.simulator", "--port", "0", "--fault", "http_500=1"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("AliveAI simulator at http://127.0.0.1:"), line + proc.stderr.read()
        base = line.split(" at ")[1].strip()
        assert "sim-key" in proc.stdout.readline()
        headers = {"Authorization": "Key sim-key"}
        assert requests.get(base + "/members/me", headers=headers, timeout=T).status_code == 500
        assert requests.get(base + "/members/me", headers=headers, timeout=T).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=T)


def test_a_new_simulator_never_repeats_the_ids_of_the_last_one():
    """Prompt ids are unique on the real API: a pack that stores results by prompt_id must not see
    a restarted simulator hand out the same ids again (and take old files for new results)."""
    from nodes.simulator import SimulatorThread

    ids = []
    for _ in range(2):
        with SimulatorThread(job_seconds=0.05) as s:
            ids.append(create_done(s)["promptId"])
    assert ids[0] != ids[1]
    fixed = []
    for _ in range(2):
        with SimulatorThread(job_seconds=0.05, id_salt="x") as s:   # reproducible when asked for
            fixed.append(create_done(s)["promptId"])
    assert fixed[0] == fixed[1]


def test_faults_count_their_injections():
    """A fault test asserts its fault happened: counters count spent units, flags count reads in force."""
    from nodes.simulator import Faults

    f = Faults()
    assert not f.take("http_500") and f.count("http_500") == 0
    f.set("http_500", 2)
    assert f.take("http_500") and f.take("http_500") and not f.take("http_500")
    assert f.count("http_500") == 2
    assert not f.on("ws_silent") and f.count("ws_silent") == 0      # off: not an injection
    f.set("ws_silent")
    assert f.on("ws_silent") and f.count("ws_silent") == 1
    with pytest.raises(ValueError):
        f.on("http_500")                                             # counters are spent, not read
    f.reset()
    assert f.injections() == {} and f.count("http_500") == 0


def test_fault_injections_are_reported_by_the_admin_route(sim):
    import requests

    sim.state.faults.set("http_503", 1)
    assert requests.get(sim.base_url + "/members/me", headers=sim.headers, timeout=5).status_code == 503
    got = requests.get(sim.base_url + "/_sim/faults", timeout=5).json()
    assert got["injected"] == {"http_503": 1}
    assert_injected(sim, "http_503")
