"""The catalog lists behind the id pickers, and the run-time check that an id is still listed.
What a user would notice: odd answers still give a list, the picker does not wait on the API
twice, an API outage shows the last good list (marked stale), and a workflow whose pose, LoRA
or profile was removed fails in the node that holds the id, with the id named, before any paid
job is created. An unreachable catalog never blocks a run."""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from support import assert_injected, wait_for
from test_nodes import defaults
from test_nodes import run as run_node
from test_routes import http

from nodes.comfy import NODE_CLASS_MAPPINGS, bridge, catalog_items, catalogs
from nodes.comfy.builder_nodes import ClothesNode, EditLoraStackNode, LoraStackNode, PoseNode, VideoLoraStackNode
from nodes.comfy.catalog_items import normalize, normalize_item, normalize_poses
from nodes.comfy.catalogs import Catalogs
from nodes.errors import ValidationError
from nodes.simulator import DEFAULT_API_KEY
from nodes.simulator import catalog as sim_catalog

CHARACTER = NODE_CLASS_MAPPINGS["AliveAICreateCharacterImage"]


class Clock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def requests(sim, op_key: str) -> int:
    return len(sim.state.requests_for(op_key))


def creates(sim) -> int:
    return sum(sim.state.counters.creates.values())


# -- normalization ----------------------------------------------------------------------------------
def test_poses_in_every_shape_flatten_to_one_list_grouped_by_category():
    body = {
        "posesStanding": {"type": "STANDING", "poses": [{"id": "standing023", "image": "https://x.test/s23.png"}]},
        "posesLying": [{"poseId": "lying014", "imageUrl": "https://x.test/l14.png", "name": "On the back"}],
        "posesAllFours": {"all_fours003": {"image": {"url": "https://x.test/a3.png"}}, "type": "ALL_FOURS"},
        "posesKneeling": {"type": "KNEELING", "poses": [{"image": "https://x.test/no-id.png"}, None, 7, {"id": True},
                                                        {"id": "kneeling012", "image": "javascript:alert(1)"}]},
        "posesPorn": "not a category",
        "posesSitting": {},
    }
    assert normalize_poses(body) == [
        {"id": "standing023", "name": "standing023", "thumb": "https://x.test/s23.png", "group": "Standing",
         "type": "STANDING"},
        {"id": "lying014", "name": "On the back", "thumb": "https://x.test/l14.png", "group": "Lying"},
        {"id": "all_fours003", "name": "all_fours003", "thumb": "https://x.test/a3.png", "group": "All Fours",
         "type": "ALL_FOURS"},
        {"id": "7", "name": "7", "thumb": "", "group": "Kneeling", "type": "KNEELING"},   # a bare id
        {"id": "kneeling012", "name": "kneeling012", "thumb": "", "group": "Kneeling", "type": "KNEELING"},
    ]
    # a flat list, or no answer at all
    assert [e["id"] for e in normalize_poses([{"id": "p1"}, {"id": "p1"}, {"poseId": "p2"}])] == ["p1", "p2"]
    assert normalize_poses(None) == [] and normalize_poses("<html>") == []


def test_the_simulator_poses_as_the_service_sees_them():
    entries = normalize("poses", sim_catalog.poses("http://sim.test"))
    assert {e["id"] for e in entries} == sim_catalog.pose_ids()
    assert [e["group"] for e in entries][::sim_catalog.POSES_PER_CATEGORY] == [
        "Standing", "Lying", "All Fours", "Kneeling", "Sitting", "Squatting", "Suspended", "Porn"]
    assert all(e["thumb"].startswith("http://sim.test/thumbs/poses/") for e in entries)
    custom = normalize("custom_poses", [sim_catalog.custom_pose_item("http://sim.test", "cp-1", "leaning")])
    assert custom == [{"id": "cp-1", "name": "leaning", "thumb": "http://sim.test/thumbs/poses/cp-1.png",
                       "group": "Custom poses", "type": "CUSTOM"}]


def test_odd_list_items_are_skipped_or_read_under_other_names():
    long_prompt = "a very long description " * 20
    clothes = normalize("clothes", [
        {"clothesId": "c1", "clothesPrompt": long_prompt, "clothesImageUrl": "https://x.test/c1.png"},
        {"clothesPrompt": "no id"}, "c2", {"clothesId": 42, "clothesPrompt": "  two\nlines  "}, [], {"id": ""},
    ])
    assert [e["id"] for e in clothes] == ["c1", "c2", "42"]
    assert len(clothes[0]["name"]) == catalog_items.MAX_NAME and clothes[0]["name"].endswith("\u2026")
    assert clothes[2]["name"] == "two lines" and clothes[0]["group"] == "Public clothes"
    wrapped = normalize("templates", {"items": [{"templateId": "t1", "title": "One", "thumbnailUrl": "ftp://x"},
                                                {"id": "t2", "category": "Styles", "type": "LORA"}]})
    assert wrapped == [{"id": "t1", "name": "One", "thumb": "", "group": "LoRAs"},
                       {"id": "t2", "name": "t2", "thumb": "", "group": "Styles"}]
    keyed = normalize("edit_templates_realism", {"r1": {"name": "Skin"}, "meta": "x"})
    assert keyed == [{"id": "r1", "name": "Skin", "thumb": "", "group": "Realism"}]
    assert normalize_item({"id": "x", "imageUrl": "data:image/png;base64,AAA"}, "g")["thumb"] == ""


# -- the service: TTL, disk, stale fallback, one fetch at a time --------------------------------------
def test_a_list_is_reused_within_the_ttl_and_refetched_after(sim, comfy):
    clock = Clock()
    svc = Catalogs(ttl=600, clock=clock)
    first = svc.get("templates")
    assert [e["id"] for e in first.items] == [i for i, _ in sim_catalog.TEMPLATES["get_templates"]]
    assert first.stale is False and first.error is None and first.updated == clock.t
    assert requests(sim, "get_templates") == 1
    clock.t += 599
    assert svc.get("templates").items == first.items and requests(sim, "get_templates") == 1
    assert svc.get("templates", refresh=True).updated == clock.t and requests(sim, "get_templates") == 2
    clock.t += 600
    svc.get("templates")
    assert requests(sim, "get_templates") == 3


def test_the_last_good_list_is_served_stale_when_the_api_fails(sim, comfy):
    clock = Clock()
    svc = Catalogs(clock=clock)
    good = svc.get("clothes")
    saved = json.loads((bridge.user_dir() / "catalogs" / "clothes.json").read_text())
    assert saved["items"] == good.items and saved["updated"] == good.updated
    assert DEFAULT_API_KEY not in json.dumps(saved)   # the scope holds a hash of it

    sim.state.faults.set("http_500", 50)
    clock.t += catalogs.TTL + 1
    stale = svc.get("clothes")
    assert stale.stale is True and stale.items == good.items and stale.updated == good.updated
    assert "500" in stale.error
    # after a restart (empty memory) the file answers while the API is down
    restarted = Catalogs(clock=clock).get("clothes", refresh=True)
    assert restarted.stale is True and restarted.items == good.items
    # nothing cached at all: an empty list and the error
    nothing = Catalogs(clock=clock).get("custom_clothes")
    assert nothing.items == [] and nothing.updated is None and "500" in nothing.error
    assert_injected(sim, "http_500")
    sim.state.faults.reset()


def test_another_accounts_file_is_never_served(sim, comfy, monkeypatch):
    svc = Catalogs()
    svc.get("custom_poses")
    path = bridge.user_dir() / "catalogs" / "custom_poses.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "scope": "https://api.aliveai.app|someoneelse"}))
    sim.state.faults.set("http_500", 50)
    other = Catalogs().get("custom_poses")
    assert other.items == [] and other.error
    assert_injected(sim, "http_500")
    sim.state.faults.reset()


def test_concurrent_callers_share_one_fetch(sim, comfy):
    """One caller's fetch is held by a slow answer; five more arrive (released together by a barrier)
    once the API has the request and before it has answered: they all share that one fetch."""
    sim.state.faults.set("slow_seconds", 1.0)
    svc = Catalogs()
    gate = threading.Barrier(5)

    def late(_):
        gate.wait(timeout=10)
        in_flight = [e.status for e in sim.state.requests_for("get_poses")] == [None]   # asked, not answered
        return in_flight, svc.get("poses")

    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(svc.get, "poses")
        wait_for(lambda: sim.state.requests_for("get_poses"))
        lates = list(pool.map(late, range(5)))
        results = [first.result(), *(r for _, r in lates)]
    assert_injected(sim, "slow_seconds")
    sim.state.faults.reset()
    assert all(in_flight for in_flight, _ in lates), "the fetch was answered before the others came"
    assert requests(sim, "get_poses") == 1
    assert all(r.items == results[0].items and len(r.items) == 24 for r in results)


def test_an_expired_list_is_answered_at_once_and_refreshed_in_the_background(sim, comfy):
    clock = Clock()
    svc = Catalogs(clock=clock)
    svc.get("video_templates")
    clock.t += catalogs.TTL + 5
    answer = svc.get("video_templates", background=True)
    assert answer.stale is True and answer.revalidating is True and answer.items
    for _ in range(100):
        if requests(sim, "get_video_templates") == 2 and svc.peek("video_templates").stale is False:
            break
        time.sleep(0.02)
    assert svc.get("video_templates").updated == clock.t and requests(sim, "get_video_templates") == 2


def test_profiles_page_through_own_then_public(sim, comfy, monkeypatch):
    listing = Catalogs().get("profiles")
    ids = [e["id"] for e in listing.items]
    user = sim.state.default_user.id
    assert set(ids) == sim_catalog.profile_ids(user) and len(ids) == len(set(ids))
    assert {e["group"] for e in listing.items[:sim_catalog.OWN_PROFILE_COUNT]} == {"My profiles"}
    assert listing.items[-1]["group"] == "Public profiles" and listing.items[0]["thumb"].endswith(".png")
    # pages: own (one page), then public (own + public items, 10 a page)
    assert requests(sim, "get_profiles") == 1 + -(-len(ids) // sim_catalog.PROFILE_PAGE_SIZE)
    monkeypatch.setattr(catalog_items, "MAX_PROFILE_PAGES", 1)
    capped = Catalogs().get("profiles", refresh=True)
    assert len(capped.items) < len(ids)


def test_without_credentials_nothing_is_fetched(tmp_path, monkeypatch):
    for name in ("ALIVEAI_API_KEY", "ALIVEAI_EMAIL", "ALIVEAI_PASSWORD", "ALIVEAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALIVEAI_USER_DIR", str(tmp_path))
    listing = Catalogs().get("poses")
    assert listing.items == [] and "ALIVEAI_API_KEY" in listing.error
    catalogs.check("poses", "standing001", "Pose (AliveAI)", "id", service=Catalogs())   # does not block
    with pytest.raises(catalog_items.UnknownCatalog):
        Catalogs().get("wardrobe")


# -- check() ----------------------------------------------------------------------------------------
def test_check_names_the_node_the_field_and_the_id(sim, comfy):
    svc = Catalogs()
    catalogs.check("poses", "standing002", "Pose (AliveAI)", "id", service=svc)
    catalogs.check(("edit_templates", "edit_templates_realism"), "edit-realism-hdr", "Edit LoRA Stack (AliveAI)",
                   "lora2_id", service=svc)
    with pytest.raises(ValidationError) as err:
        catalogs.check("poses", "standing023", "Pose (AliveAI)", "id", service=svc)
    assert str(err.value) == "Pose (AliveAI): 'id': pose 'standing023' is not in Get Poses any more: pick another"
    assert err.value.field == "id" and err.value.operation == "Pose (AliveAI)"
    with pytest.raises(ValidationError, match=r"'lora1_id': video LoRA 'gone' is not in Get Video Templates or "
                                              r"Get Ltx Video Templates any more"):
        catalogs.check(("video_templates", "ltx_video_templates"), "gone", "Video LoRA Stack (AliveAI)", "lora1_id",
                       service=svc)


def test_check_looks_again_before_refusing_an_id_missing_from_an_older_list(sim, comfy):
    clock = Clock()
    svc = Catalogs(clock=clock)
    svc.get("custom_poses")
    sim.state.default_user.custom_poses["custom-pose-new"] = "made on the site a minute ago"
    clock.t += catalogs.RECHECK_AGE + 1
    catalogs.check("custom_poses", "custom-pose-new", "Pose (AliveAI)", "id", service=svc)
    assert requests(sim, "get_custom_poses") == 2


def test_check_does_not_block_when_the_catalog_cannot_be_fetched(sim, comfy):
    sim.state.faults.set("http_500", 50)
    catalogs.check("templates", "whatever", "LoRA Stack (AliveAI)", "lora1_id", service=Catalogs())
    assert_injected(sim, "http_500")
    sim.state.faults.reset()


def test_check_refuses_from_a_stale_list_and_says_so(sim, comfy):
    clock = Clock()
    svc = Catalogs(clock=clock)
    svc.get("templates")
    sim.state.faults.set("http_500", 50)
    clock.t += catalogs.TTL + 60
    with pytest.raises(ValidationError, match=r"'tpl-gone' is not in Get Templates any more: pick another "
                                              r"\(list from 11 min ago: AliveAI could not be reached"):
        catalogs.check("templates", "tpl-gone", "LoRA Stack (AliveAI)", "lora1_id", service=svc)
    assert_injected(sim, "http_500")
    sim.state.faults.reset()


# -- the route ----------------------------------------------------------------------------------------
def test_route_lists_a_catalog(sim, comfy):
    status, text, body = http("GET", "/aliveai/catalog/edit_templates")
    assert status == 200 and body["kind"] == "edit_templates" and body["stale"] is False and body["error"] is None
    assert [e["id"] for e in body["items"]] == [i for i, _ in sim_catalog.TEMPLATES["get_edit_templates"]]
    assert set(body["items"][0]) == {"id", "name", "thumb", "group"} and body["updated"]
    assert DEFAULT_API_KEY not in text
    http("GET", "/aliveai/catalog/edit_templates")
    assert requests(sim, "get_edit_templates") == 1
    _, _, again = http("GET", "/aliveai/catalog/edit_templates?refresh=1")
    assert again["updated"] >= body["updated"] and requests(sim, "get_edit_templates") == 2


def test_route_refuses_an_unknown_kind_and_reports_a_dead_api(sim, comfy):
    status, _, body = http("GET", "/aliveai/catalog/wardrobe")
    assert status == 404 and "unknown catalog 'wardrobe'" in body["error"] and "poses" in body["error"]
    sim.state.faults.set("http_500", 50)
    status, _, body = http("GET", "/aliveai/catalog/poses")
    assert_injected(sim, "http_500")
    sim.state.faults.reset()
    assert status == 200 and body["items"] == [] and "500" in body["error"]


# -- node runs ----------------------------------------------------------------------------------------
def build(cls, **kwargs):
    return run_node(cls, **kwargs)


def test_a_removed_pose_fails_in_the_pose_node_before_any_job(sim, comfy):
    with pytest.raises(ValidationError) as err:
        build(PoseNode, id="standing099", type="STANDING", poseStrength=30, posePrompt="")
    assert str(err.value).startswith("Pose (AliveAI): 'id': pose 'standing099' is not in Get Poses any more")
    assert creates(sim) == 0
    # a custom pose is looked up in the custom list; no type: either list
    for kind in ("CUSTOM", ""):
        assert build(PoseNode, id="custom-pose-2", type=kind, poseStrength=3, posePrompt="")[0]["id"] == "custom-pose-2"
    with pytest.raises(ValidationError, match="Get Custom Poses any more"):
        build(PoseNode, id="standing001", type="CUSTOM", poseStrength=30, posePrompt="")
    # a prompt-only pose has no id to look up
    assert build(PoseNode, id="", type="CUSTOM", poseStrength=30, posePrompt="arms up")[0] == {
        "type": "CUSTOM", "poseStrength": 30, "posePrompt": "arms up"}


def test_clothes_and_lora_stacks_name_the_missing_id(sim, comfy):
    sim.state.default_user.custom_clothes.pop("custom-clothes-3")   # deleted on the site
    assert build(ClothesNode, clothesId="custom-clothes-2", clothesPrompt="")[0] == {"clothesId": "custom-clothes-2"}
    with pytest.raises(ValidationError, match=r"^Clothes \(AliveAI\): 'clothesId': clothes 'custom-clothes-3' is not "
                                              r"in Get Public Clothes or Get Custom Clothes any more: pick another"):
        build(ClothesNode, clothesId="custom-clothes-3", clothesPrompt="")
    with pytest.raises(ValidationError) as err:
        build(LoraStackNode, lora1_id="tpl-selfie", lora1_strength=1.0, lora2_id="tpl-retired", lora2_strength=1.0)
    assert err.value.field == "lora2_id" and "LoRA 'tpl-retired' is not in Get Templates" in str(err.value)
    assert build(EditLoraStackNode, lora1_id="edit-realism-bokeh", lora2_id="edit-creative-oil")[0] == [
        {"id": "edit-realism-bokeh"}, {"id": "edit-creative-oil"}]
    with pytest.raises(ValidationError, match="Get Video Templates or Get Ltx Video Templates"):
        build(VideoLoraStackNode, lora1_id="ltx-orbit", lora3_id="edit-realism-bokeh")
    assert creates(sim) == 0


def test_local_checks_come_first_and_queue_time_stays_offline(sim, comfy):
    with pytest.raises(ValidationError, match="poseStrength"):
        build(PoseNode, id="standing099", type="STANDING", poseStrength=150, posePrompt="")
    assert PoseNode.VALIDATE_INPUTS(id="standing099", type="STANDING", poseStrength=30, posePrompt="") is True
    assert LoraStackNode.VALIDATE_INPUTS(lora1_id="tpl-retired", lora1_strength=1.0) is True
    assert CHARACTER.VALIDATE_INPUTS(**{**defaults(CHARACTER), "prompt": "x", "profileId": "nobody"}) is True
    assert sim.state.log == []   # nothing was sent


def test_create_character_image_checks_the_profile_before_creating(sim, comfy):
    kwargs = {**defaults(CHARACTER), "prompt": "reading in a cafe"}
    with pytest.raises(ValidationError) as err:
        run_node(CHARACTER, **{**kwargs, "profileId": "PASTE_A_PROFILE_ID"})
    assert str(err.value) == ("Create Character Image (AliveAI): 'profileId': profile 'PASTE_A_PROFILE_ID' is not "
                              "in Get Profiles For User any more: pick another")
    assert creates(sim) == 0 and sim.state.counters.uploads == 0
    out = run_node(CHARACTER, **{**kwargs, "profileId": "profile-007"})
    assert out["result"][3] and creates(sim) == 1


def test_the_service_is_safe_from_many_threads(sim, comfy):
    svc = Catalogs(ttl=0.05)
    errors = []

    def work():
        try:
            for kind in ("poses", "clothes", "templates") * 3:
                assert svc.get(kind).items
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
