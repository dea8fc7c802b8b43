"""Trust findings that sit between the areas: a cached request whose files were deleted is never
paid for again because the API could not be reached for a moment."""
from __future__ import annotations

import shutil

import pytest
from support import CREATE, create_kw, creates, fast_client, run

from nodes.errors import AliveAIError


def test_an_unreachable_api_does_not_turn_a_cached_request_into_a_new_job(comfy, sim, tmp_path, monkeypatch):
    fast_client(monkeypatch)
    first = run(CREATE, unique_id="1", **create_kw())
    pid = first["result"][3]
    shutil.rmtree(tmp_path / "output")                      # the files are gone: the cache must ask the API
    from nodes import pixel_cache
    pixel_cache.DECODED.clear()
    sim.state.faults.set("http_503", 1000)                  # ...which does not answer for now
    with pytest.raises(AliveAIError) as e:
        run(CREATE, unique_id="1", **create_kw())
    assert sim.state.faults.count("http_503") >= 1
    assert creates(sim) == 1                                # not a second, paid job
    assert pid in str(e.value) and "Create Image (AliveAI)" in str(e.value)
    sim.state.faults.set("http_503", 0)
    again = run(CREATE, unique_id="1", **create_kw())       # back: the same job's result, downloaded again
    assert again["result"][3] == pid and creates(sim) == 1


@pytest.mark.parametrize("hostile", [2, 3, 4])      # 'job:42', 'job/42', 'a\b': one URL segment each
def test_a_prompt_id_with_reserved_characters_is_followed_over_its_own_websocket(sim, client, hostile):
    from support import assert_injected

    from nodes.client import Completed

    sim.state.faults.set("prompt_id_hostile", hostile)
    for _ in range(hostile - 1):                     # spend the ids before the one this case is about
        client.submit("create_prompt", {"name": "A", "appearance": "b", "detailLevel": "MEDIUM"})
    job = client.submit("create_prompt", {"name": "A", "appearance": "b", "detailLevel": "MEDIUM"})
    assert_injected(sim, "prompt_id_hostile")
    done = job.result()
    assert isinstance(done, Completed) and job.mode == "websocket"
    assert sim.state.counters.ws_connections >= 1


def test_readme_security_table_names_real_tests():
    """Every test the Security section (docs/reliability-and-security.md, linked from the README) names
    exists in one of the files it lists."""
    import re

    from conftest import ROOT

    assert "docs/reliability-and-security.md" in (ROOT / "README.md").read_text("utf-8")
    doc = (ROOT / "docs" / "reliability-and-security.md").read_text("utf-8")
    section = doc.split("## Security", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(test_\w+)`", section))
    files = re.findall(r"`(tests/test_\w+\.py)`", section)
    assert len(named) >= 30 and len(files) >= 6
    defined = set()
    for f in files:
        defined |= set(re.findall(r"^def (test_\w+)", (ROOT / f).read_text("utf-8"), re.M))
    assert named <= defined, sorted(named - defined)
